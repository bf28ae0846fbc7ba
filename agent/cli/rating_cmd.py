"""`energy-agent rating CONFIG --period 2026-10`: the green-factory rating data package of a period.

Measured indicators come from the site's M&V model over its history store (default
`<sinks.local_store.path>/history.db`, relative to the config file); declared values and site curves
from the config's `analytics.rating.site_file` (`--site-rating FILE` overrides it), the rubric from
`analytics.rating.rubric` (`--rubric FILE` overrides it; default the shipped one). The dashboard and
the runtime rate through `agent.rating.site.site_rating_provider` with the same files, so a period
gets the same score and grade everywhere. Output: a
short summary (default), the canonical JSON (`--json`), or the one-row-per-indicator CSV (`--csv`);
`--out FILE` writes the JSON (or, with `--csv`, the CSV) to a file instead of stdout.

Exit codes: 0 ok, 1 bad input (period, config, rubric, site rating file), 2 missing data (no history
store, no site energy in the period).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agent.config.loader import load_config
from agent.errors import ConfigError
from agent.rating.files import write_package
from agent.rating.package import package_csv, package_json
from agent.rating.period import parse_period
from agent.rating.site import rating_inputs

__all__ = ["add_parsers", "run_rating"]


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser("rating", help="green-factory rating data package of a period (JSON / CSV)")
    parser.add_argument("config", type=Path, help="site config YAML")
    parser.add_argument("--period", required=True, help="YYYY-MM, YYYY-Qn or YYYY (local calendar)")
    parser.add_argument(
        "--rubric", type=Path, default=None, help="rubric YAML (default: analytics.rating.rubric or shipped)"
    )
    parser.add_argument(
        "--site-rating",
        type=Path,
        default=None,
        help="site rating file: declared values and site curves (default: analytics.rating.site_file)",
    )
    parser.add_argument("--history", type=Path, default=None, help="history store (default: the site's)")
    parser.add_argument("--json", action="store_true", help="print the package as JSON")
    parser.add_argument("--csv", action="store_true", help="CSV, one row per indicator")
    parser.add_argument("--out", type=Path, default=None, help="write to this file instead of stdout")
    parser.add_argument(
        "--generated-at",
        type=_aware_time,
        default=None,
        help="generation time (ISO 8601 with offset) for a reproducible package; default: now",
    )
    parser.set_defaults(func=run_rating)


def run_rating(args: argparse.Namespace) -> int:
    from agent.rating.provider import NoRatingData

    try:
        package = _package(args)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    except NoRatingData as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    fmt: Literal["json", "csv"] = "csv" if args.csv else "json"
    if args.out is not None:
        write_package(package, args.out, fmt)
        print(f"rating {package['period']['label']}: {_headline(package)} -> {args.out}", file=sys.stderr)
    elif args.csv:
        sys.stdout.write(package_csv(package))
    elif args.json:
        sys.stdout.write(package_json(package))
    else:
        sys.stdout.write(_summary(package))
    return 0


def _package(args: argparse.Namespace) -> dict[str, Any]:
    from agent.rating.provider import default_history_path, rating_package

    period = parse_period(args.period)
    loaded = load_config(args.config)
    rubric, site_rating = rating_inputs(loaded, rubric_path=args.rubric, site_file=args.site_rating)
    history = args.history or default_history_path(loaded)
    generated_at = args.generated_at or datetime.now(UTC)
    return rating_package(loaded, history, rubric, site_rating, period, generated_at)


def _aware_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give an offset, e.g. 2026-11-01T00:00:00+08:00")
    return value


def _points(value: float) -> str:
    """A score as a person reads it: at most two decimals (19.98, 3, 66.5), never 19.9837."""
    return f"{round(value, 2):g}"


def _headline(package: dict[str, Any]) -> str:
    total, grade = package["total"], package["grade"]
    provisional = " (provisional)" if package["provisional"] else ""
    points = f"{_points(total['points'])} / {_points(total['max_points'])} points"
    return f"{points}, grade {grade['grade']}{provisional}"


def _summary(package: dict[str, Any]) -> str:
    lines = [f"{package['site']} {package['period']['label']}: {_headline(package)}"]
    for item in package["indicators"]:
        value = "-" if item["value"] is None else f"{item['value']:g} {item['value_unit']}"
        flags = f"  [{', '.join(item['flags'])}]" if item["flags"] else ""
        lines.append(
            f"  {item['id']:<34} {value:<28} {_points(item['points'])}/{_points(item['max_points'])}{flags}"
        )
    lines.extend(f"warning: {text}" for text in package["warnings"])
    return "\n".join(lines) + "\n"
