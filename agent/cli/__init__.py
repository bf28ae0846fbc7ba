"""energy-agent: poll Modbus energy meters and compressors, deliver to MQTT/InfluxDB, compute savings.

Exit codes: 0 ok, 1 bad input (config, arguments), 2 device or I/O failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from agent import __version__
from agent.cli import (
    check_cmd,
    commission,
    config_cmds,
    control_cmd,
    demo_cmd,
    import_cmd,
    profile_cmds,
    rating_cmd,
    run,
    savings_cmd,
    simulate,
    web_cmds,
)
from agent.config.loader import issue_lines
from agent.errors import AgentError, ConfigError, DeviceError

__all__ = ["main"]

# Each module adds its sub-commands; each command sets `func(args) -> int`.
COMMAND_MODULES: list[Callable[[Any], None]] = [
    config_cmds.add_parsers,
    commission.add_parsers,
    check_cmd.add_parsers,
    profile_cmds.add_parsers,
    run.add_parsers,
    control_cmd.add_parsers,
    web_cmds.add_parsers,
    rating_cmd.add_parsers,
    savings_cmd.add_parsers,
    import_cmd.add_parsers,
    demo_cmd.add_parsers,
    lambda sub: simulate.add_parser(sub).set_defaults(func=simulate.run),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="energy-agent", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"energy-agent {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMAND_MODULES:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        if args.debug:
            raise
        for line in issue_lines(exc.issues):
            print(line, file=sys.stderr)
        return 1
    except DeviceError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (AgentError, OSError) as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
