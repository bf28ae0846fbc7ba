"""`energy-agent import FILE.csv --site SITE.yaml`: load an interval CSV into the site's history store.

The columns, time rules and errors are described in docs/analytics.md ("Importing interval data");
the import itself is `agent.history.importer.import_csv`. A file with any issue (each printed as
`file:row: column: problem`) imports nothing and exits 1; importing the same file again changes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parsers", "run_import"]

HISTORY_FILE = "history.db"  # what the runtime writes (agent.runtime.delivery)


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "import", help="load an interval CSV (energy, production, temperature, compressors) into history"
    )
    parser.add_argument("file", type=Path, help="CSV with a timestamp column (see docs/analytics.md)")
    parser.add_argument(
        "--site", type=Path, required=True, help="site config YAML (time zone, devices, store)"
    )
    parser.add_argument(
        "--temperature-unit",
        choices=["C", "F"],
        default=None,
        help="unit of a column named plain 'temperature' (temperature_c / temperature_f say it themselves)",
    )
    parser.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from agent.config.loader import load_config, store_dir
    from agent.history.importer import import_csv
    from agent.history.store import HistoryStore

    loaded = load_config(args.site)
    history = store_dir(loaded.config, args.site) / HISTORY_FILE
    with HistoryStore(history) as store:
        summary = import_csv(args.file, loaded.config, store, temperature_unit=args.temperature_unit)
    print(f"imported {summary}\ninto {history}")
    return 0
