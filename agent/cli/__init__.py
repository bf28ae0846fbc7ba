"""The `energy-agent` command line. Exit codes: 0 ok, 1 bad input, 2 device/IO failure."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent import __version__

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energy-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"energy-agent {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
