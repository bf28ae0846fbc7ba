"""`energy-agent dashboard CONFIG` and `energy-agent report CONFIG --period YYYY-MM --out DIR`.

Both read the history store of a site (default: `<sinks.local_store.path>/history.sqlite`, relative
to the config file) with the site's meter tree and time zone; `--baseline START:END` sets the
baseline period (default: the first 12 months of the history when it holds 13 or more).

`report` exit codes: 0 written, 1 bad input, 2 no energy data in the period (nothing is written).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config.loader import LoadedConfig, load_config, store_dir
from agent.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from agent.web.source import DashboardSettings

__all__ = ["add_parsers", "settings_from_config"]

HISTORY_FILE = "history.db"  # what the runtime writes (agent.runtime.delivery)


def add_parsers(sub: Any) -> None:
    dash = sub.add_parser("dashboard", help="serve the dashboard over a site's history store")
    _common(dash)
    dash.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    dash.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    dash.set_defaults(func=run_dashboard)

    report = sub.add_parser("report", help="write the M&V report of a period (HTML, and PDF with Chromium)")
    _common(report)
    report.add_argument("--period", required=True, help="YYYY-MM or YYYY (local calendar)")
    report.add_argument("--out", type=Path, required=True, help="output directory")
    report.add_argument("--no-pdf", action="store_true", help="HTML only")
    report.set_defaults(func=run_report)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="site config YAML")
    parser.add_argument("--history", type=Path, default=None, help="history SQLite file")
    parser.add_argument(
        "--baseline", default=None, metavar="START:END", help="baseline period, YYYY-MM-DD:YYYY-MM-DD"
    )
    parser.add_argument("--replay", action="store_true", help="'now' = end of the history (an offline copy)")


def _baseline(text: str | None) -> tuple[date | None, date | None]:
    if text is None:
        return None, None
    try:
        first, last = text.split(":")
        return date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        raise ConfigError([ConfigIssue("command line", None, "--baseline", f"{text!r}: {exc}")]) from exc


def settings_from_config(config_path: Path, args: argparse.Namespace) -> tuple[DashboardSettings, Path]:
    """Dashboard settings and the history path of a site config (+ the common options)."""
    settings, history, _ = _site(config_path, args)
    return settings, history


def _site(config_path: Path, args: argparse.Namespace) -> tuple[DashboardSettings, Path, LoadedConfig]:
    from agent.web.settings import settings_for

    loaded = load_config(config_path)
    cfg = loaded.config
    baseline = _baseline(args.baseline)
    settings = settings_for(cfg, baseline=baseline, replay=bool(args.replay), config_path=config_path)
    history = args.history or store_dir(cfg, config_path) / HISTORY_FILE
    if not history.exists():
        issue = ConfigIssue(
            str(config_path), None, "sinks.local_store.path", f"no history store at {history}"
        )
        raise ConfigError([issue])
    return settings, history, loaded


def run_dashboard(args: argparse.Namespace) -> int:
    from agent.rating.site import site_rating_provider
    from agent.web.app import TOKEN_ENV, check_bind, create_app
    from agent.web.history_source import HistorySource
    from agent.web.server import serve

    settings, history, loaded = _site(args.config, args)
    token = os.environ.get(TOKEN_ENV) or None
    check_bind(args.host, token)
    rating = site_rating_provider(loaded, history)  # the config's rubric and site rating file
    app = create_app(HistorySource(history, settings, rating=rating), token=token)
    print(f"dashboard: http://{args.host}:{args.port}/ (history {history})", file=sys.stderr)
    serve(app, args.host, args.port, token)
    return 0


def run_report(args: argparse.Namespace) -> int:
    from agent.report import NoReportData, write_report
    from agent.web.history_source import HistorySource

    settings, history = settings_from_config(args.config, args)
    source = HistorySource(history, replace(settings, replay=True) if args.replay else settings)
    try:
        files = write_report(source, args.period, args.out, pdf=not args.no_pdf)
    except NoReportData as exc:
        print(f"report: {exc} ({history}): nothing written", file=sys.stderr)
        return 2
    print(files.html)
    if files.pdf is not None:
        print(files.pdf)
    print(f"report: {files.note}", file=sys.stderr)
    return 0
