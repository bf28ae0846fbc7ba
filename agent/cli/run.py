"""`energy-agent run CONFIG`: poll every device of a site until SIGTERM / SIGINT; SIGHUP reloads."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.config.loader import load_config
from agent.errors import ConfigError
from agent.runtime.app import Agent
from agent.runtime.output import JsonLinesOutput
from agent.runtime.signals import install_signal_handlers

__all__ = ["add_parsers", "main", "run_command"]


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="poll the site's devices until stopped (SIGTERM/SIGINT stop, SIGHUP reloads the config)",
    )
    parser.add_argument("config", type=Path, help="site config YAML")
    parser.add_argument(
        "--output",
        default="-",
        help="JSON-lines file for poll results, status events and interval energy ('-' = stdout)",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)  # a ConfigError here exits 1 with every issue listed
    output = JsonLinesOutput(None if args.output == "-" else Path(args.output))
    try:
        asyncio.run(_serve(args.config, loaded, output))
    finally:
        output.close()
    return 0


async def _serve(path: Path, loaded: Any, output: JsonLinesOutput) -> None:
    agent = Agent(loaded, output, loader=lambda: load_config(path))
    remove = install_signal_handlers(agent)
    try:
        await agent.run()
    finally:
        remove()


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m agent.cli.run CONFIG`) until the main CLI lists `run`."""
    parser = argparse.ArgumentParser(prog="energy-agent")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
