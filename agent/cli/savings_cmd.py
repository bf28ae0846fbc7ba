"""`energy-agent savings CONFIG`: the M&V result of a site (IPMVP, ASHRAE Guideline 14) on the terminal.

The numbers come from `HistorySource.savings`, the very function behind the dashboard's /api/savings
and the report's savings sections, over the site's M&V model (`agent.mv`, docs/mv.md: site meters,
production series, windows and the config's non-routine adjustments); so the three, and the
rating's verified savings rate, agree by construction. `--baseline START:END` (both days included)
overrides the config's baseline period (whose `period_end` is the first reporting day);
`--reporting START:END` (both included) narrows the reporting window, which otherwise runs from the
day after the baseline to today (`--replay`: to the end of the history).

Without a config, `--baseline B.csv --reporting R.csv` take two interval exports instead
(`agent.cli.csv_savings`).

Exit codes: 0 verified savings, 1 bad input (config, arguments), 2 no verified savings: not enough
data (no history store, no baseline the data can support, no reporting days), or a baseline that
fails its Guideline 14 verdict (the figures are printed, marked "not verified", one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from agent.config.loader import load_config, store_dir
from agent.errors import ConfigError, ConfigIssue

__all__ = ["add_parsers", "format_savings", "parse_days", "run_savings"]

HISTORY_FILE = "history.db"  # what the runtime writes (agent.runtime.delivery)
EXIT_BAD_INPUT = 1
EXIT_NO_DATA = 2
EXIT_NOT_VERIFIED = 2  # the baseline or the savings uncertainty fails Guideline 14


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser("savings", help="avoided energy with Guideline 14 statistics and uncertainty")
    parser.add_argument(
        "config", type=Path, nargs="?", default=None, help="site config YAML (none: two CSV files)"
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="START:END|B.csv",
        help="with a config: baseline days, YYYY-MM-DD:YYYY-MM-DD (inclusive); without: the baseline CSV",
    )
    parser.add_argument(
        "--reporting",
        default=None,
        metavar="START:END|R.csv",
        help="with a config: reporting days, YYYY-MM-DD:YYYY-MM-DD (inclusive); without: the reporting CSV",
    )
    csv_options = parser.add_argument_group("CSV form (no config)")
    csv_options.add_argument("--timezone", default=None, help="IANA zone of naive CSV times (DST-correct)")
    csv_options.add_argument(
        "--temperature-unit",
        choices=["F", "C", "f", "c"],
        default=None,
        help="unit of a `temperature` column",
    )
    csv_options.add_argument("--tariff-yuan-per-kwh", type=float, default=None, help="value the savings")
    csv_options.add_argument("--co2-kg-per-kwh", type=float, default=None, help="grid emission factor")
    csv_options.add_argument("--kgce-per-kwh", type=float, default=None, help="standard coal factor")
    csv_options.add_argument(
        "--plot", type=Path, default=None, metavar="FILE.png", help="baseline vs actual, cumulative savings"
    )
    parser.add_argument("--history", type=Path, default=None, help="history store (default: the site's)")
    parser.add_argument(
        "--replay", action="store_true", help="'today' = end of the history (an offline copy)"
    )
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.set_defaults(func=run_savings)


def parse_days(text: str | None, option: str) -> tuple[date | None, date | None]:
    """'YYYY-MM-DD:YYYY-MM-DD' -> (first, last); ConfigError naming the option when malformed."""
    if text is None:
        return None, None
    try:
        first_text, last_text = text.split(":")
        first, last = date.fromisoformat(first_text), date.fromisoformat(last_text)
    except ValueError as exc:
        raise ConfigError([ConfigIssue("command line", None, option, f"{text!r}: {exc}")]) from exc
    if last < first:
        raise ConfigError([ConfigIssue("command line", None, option, f"{text!r}: END is before START")])
    return first, last


_CSV_ONLY = ("timezone", "temperature_unit", "tariff_yuan_per_kwh", "co2_kg_per_kwh", "kgce_per_kwh", "plot")


def run_savings(args: argparse.Namespace) -> int:
    if args.config is None:
        if args.baseline is None or args.reporting is None:
            print("error: give a site config, or --baseline B.csv and --reporting R.csv", file=sys.stderr)
            return EXIT_BAD_INPUT
        from agent.cli.csv_savings import run_csv_savings

        return run_csv_savings(args)
    given = [name for name in _CSV_ONLY if getattr(args, name, None) is not None]
    if given:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        print(f"error: {options}: only without a site config (the config sets them)", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _run_site(args)


def _run_site(args: argparse.Namespace) -> int:
    from agent.web.history_source import HistorySource
    from agent.web.settings import settings_for

    try:
        baseline = parse_days(args.baseline, "--baseline")
        first, last = parse_days(args.reporting, "--reporting")
        loaded = load_config(args.config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_BAD_INPUT
    history = args.history or store_dir(loaded.config, args.config) / HISTORY_FILE
    if not history.is_file():
        print(f"error: no history store at {history} (--history, sinks.local_store.path)", file=sys.stderr)
        return EXIT_NO_DATA
    settings = settings_for(
        loaded.config, baseline=baseline, replay=bool(args.replay), config_path=args.config
    )
    result = HistorySource(history, settings).savings(first, last)
    if not result.get("available"):
        print(f"error: {result.get('reason')}", file=sys.stderr)
        return EXIT_NO_DATA
    sys.stdout.write(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n" if args.json else format_savings(result)
    )
    if not result["verdict"]["passed"]:
        print(f"error: savings not verified: {'; '.join(result['verdict']['failures'])}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    return 0


# ---------------------------------------------------------------- text


def format_savings(result: dict[str, Any]) -> str:
    """The human summary of a `HistorySource.savings` result."""
    return "\n".join([*_model_lines(result), *_acceptance_lines(result), *_result_lines(result)]) + "\n"


def _model_lines(result: dict[str, Any]) -> list[str]:
    base = result["baseline"]
    s = base["stats"]
    window, reporting = base["window"], result["reporting"]
    t_stats = ", ".join(f"{name} {value:.1f}" for name, value in s["t_stats"].items())
    points = [f"Th {base['heating_bp_c']:g} degC"] if base["heating_bp_c"] is not None else []
    points += [f"Tc {base['cooling_bp_c']:g} degC"] if base["cooling_bp_c"] is not None else []
    return [
        f"baseline   {window['start']} .. {window['end']}   "
        f"reporting {reporting['start']} .. {reporting['end']}",
        f"model      IPMVP Option {base['ipmvp_option']}, {base['granularity']} {base['kind']}"
        + (f" ({', '.join(points)})" if points else ""),
        f"           {base['equation']}",
        *([f"why        {base['choice_reason']}"] if base.get("choice_reason") else []),
        f"fit        n {s['n']}, p {s['p']}, R2 {s['r2']:.4f}, adj R2 {s['adj_r2']:.4f}, "
        f"CV(RMSE) {s['cv_rmse']:.2%}, NMBE {s['nmbe']:.3%}, rho {s['rho']:.3f}",
        f"t-stats    {t_stats}",
        *(f"note       {w}" for w in base["warnings"]),
    ]


def _acceptance_lines(result: dict[str, Any]) -> list[str]:
    acceptance = result["acceptance"]
    checks = "; ".join(
        f"{c['name']} {c['value']:.4g} {c['limit']} {'ok' if c['passed'] else 'FAIL'}"
        for c in acceptance["checks"]
    )
    band = result["uncertainty"][0]
    uncertainty = "ok" if result["meets_guideline_14"] else "FAIL"
    return [
        f"G14        baseline {'PASSED' if acceptance['passed'] else 'FAILED'} ({checks})",
        f"           savings uncertainty {_pct(band['fraction_of_savings'])} of savings at 68 % "
        f"(< 50 %: {uncertainty})",
    ]


def _result_lines(result: dict[str, Any]) -> list[str]:
    value = result["value"]
    bands = ", ".join(
        f"+/- {u['absolute_kwh']:,.0f} kWh at {u['confidence']:.0%}" for u in result["uncertainty"]
    )
    lines = [
        f"energy     adjusted baseline {result['baseline_kwh']:,.0f} kWh, "
        f"actual {result['actual_kwh']:,.0f} kWh"
        + (f", non-routine {result['non_routine_kwh']:,.0f} kWh" if result["non_routine_kwh"] else ""),
        f"savings    {'' if result['verdict']['passed'] else 'NOT VERIFIED: '}"
        f"{result['savings_kwh']:,.0f} kWh "
        f"({_pct(result['fraction'])} of the adjusted baseline), {bands}",
        f"value      {value['yuan']:,.0f} yuan at {value['price_yuan_per_kwh']:.4f} yuan/kWh, "
        f"{value['tce']:,.2f} tce, {value['tco2']:,.2f} tCO2",
    ]
    lines += [
        f"adjusted   {a['start']} .. {a['end']}: {a['kwh']:+,.0f} kWh on {a['days_applied']} day(s)"
        f" ({a['reason']})"
        for a in result.get("adjustments", [])
    ]
    site = result.get("site")
    if site:
        eui = site["eui_kwh_per_unit"]
        lines.append(
            f"site       {' + '.join(site['site_meters'])}: {site['energy_kwh']:,.0f} kWh measured, "
            + (
                "no production"
                if site["production"] is None
                else f"{site['production']:,.3f} {site['production_unit']}"
            )
            + ("" if eui is None else f", {eui:,.4f} kWh/{site['production_unit']}")
            + f", completeness {_pct(site['completeness'])}"
        )
    return lines + [f"warning    {w}" for w in result["warnings"] if w not in result["baseline"]["warnings"]]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
