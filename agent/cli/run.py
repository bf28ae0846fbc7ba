"""`energy-agent run CONFIG`: poll every device of a site until SIGTERM / SIGINT; SIGHUP reloads.

Readings go through the durable outbox to the configured sinks (MQTT, InfluxDB), interval energy to
the local history store, and the dashboard is served when the config has a `web:` section.
`--output FILE` instead writes JSON lines (for debugging a config without any sink).

This module parses arguments; the site is composed and supervised by `agent.runtime.site`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.config.loader import load_config
from agent.errors import ConfigError

__all__ = ["add_parsers", "main", "run_command"]


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="poll the site's devices until stopped (SIGTERM/SIGINT stop, SIGHUP reloads the config)",
    )
    parser.add_argument("config", type=Path, help="site config YAML")
    parser.add_argument(
        "--output",
        default=None,
        help="debug: write poll results, status events and interval energy as JSON lines to this file "
        "('-' = stdout) instead of the outbox and sinks",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from agent.runtime.loop import run_event_loop
    from agent.runtime.site import serve_jsonl, serve_site

    loaded = load_config(args.config)  # a ConfigError here exits 1 with every issue listed
    if args.output is not None:
        from agent.runtime.output import JsonLinesOutput

        output = JsonLinesOutput(None if args.output == "-" else Path(args.output))
        try:
            run_event_loop(serve_jsonl(args.config, loaded, output))
        finally:
            output.close()
        return 0
    run_event_loop(serve_site(args.config, loaded))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: `python -m agent.cli.run CONFIG [--output FILE]`."""
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
