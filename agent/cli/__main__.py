"""`python -m agent.cli` is `energy-agent`."""

import sys

from agent.cli import main

sys.exit(main())
