"""`energy-agent savings --baseline B.csv --reporting R.csv`: savings from two interval exports, no site.

Each file: header `timestamp,energy_kwh[,production][,temperature_c|temperature_f|temperature]`,
one row per interval (15 min, hourly, daily ...: detected by `agent.history.csvread`, the reader
`energy-agent import` uses too). Naive times are local times in `--timezone` (DST-correct); a plain
`temperature` column needs `--temperature-unit F|C`. The model is chosen for the data's
granularity and drivers (`agent.analytics.evaluate`), its verdict is printed with each check's
source, and money, standard coal and CO2 appear only for the tariff and factors given on the
command line: nothing is assumed about the site's country.

Exit codes: 0 verified savings, 1 bad input (file:row: column), 2 no verified savings (the
baseline fails its verdict: the figures are printed marked "not verified"; or too little data).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from agent.analytics.errors import AnalyticsError
from agent.analytics.evaluate import Evaluation, evaluate
from agent.analytics.savings import absolute_uncertainty
from agent.errors import ConfigError, ConfigIssue
from agent.history.csvread import Column, IntervalData, read_interval_csv, temperature_column

__all__ = ["csv_columns", "format_evaluation", "run_csv_savings", "valued"]

EXIT_BAD_INPUT = 1
EXIT_NOT_VERIFIED = 2


def csv_columns(unit: str | None) -> Any:
    """The column map of a savings CSV (temperature in `unit` when the header says only `temperature`)."""

    def column(header: str) -> Column | None:
        if header in ("energy_kwh", "production"):
            return Column(header)
        return temperature_column(header, unit)

    return column


def _check_header(path: Path, unit: str | None) -> None:
    """A plain `temperature` column without a unit is named, not reported as merely unknown."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = [h.strip() for h in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return  # the reader reports it with its file
    if "temperature" in header and unit is None:
        raise ConfigError(
            [ConfigIssue(str(path), 1, "temperature", "unit unknown: give --temperature-unit F or C")]
        )
    if header and "energy_kwh" not in header:
        raise ConfigError([ConfigIssue(str(path), 1, "energy_kwh", "the header has no energy_kwh column")])


def _read(path: Path, args: argparse.Namespace) -> IntervalData:
    _check_header(path, args.temperature_unit)
    return read_interval_csv(path, csv_columns(args.temperature_unit), timezone=args.timezone)


def valued(savings_kwh: float, args: argparse.Namespace) -> dict[str, Any]:
    """Money, coal and CO2 for the factors given on the command line only (none given: empty)."""
    out: dict[str, Any] = {}
    if args.tariff_yuan_per_kwh is not None:
        out["yuan"] = savings_kwh * args.tariff_yuan_per_kwh
        out["tariff_yuan_per_kwh"] = args.tariff_yuan_per_kwh
    if args.kgce_per_kwh is not None:
        out["tce"] = savings_kwh * args.kgce_per_kwh / 1000.0
        out["kgce_per_kwh"] = args.kgce_per_kwh
    if args.co2_kg_per_kwh is not None:
        out["tco2"] = savings_kwh * args.co2_kg_per_kwh / 1000.0
        out["co2_kg_per_kwh"] = args.co2_kg_per_kwh
    return out


def _check_pair(baseline: IntervalData, reporting: IntervalData, source: str) -> None:
    """The reporting file has the baseline's interval and every driver column the model needs."""
    if baseline.interval_s != reporting.interval_s:
        message = f"{reporting.granularity} rows, the baseline file has {baseline.granularity} rows"
        raise ConfigError([ConfigIssue(source, None, "timestamp", message)])
    for name in baseline.values.columns:
        if name not in reporting.values.columns:
            message = "the baseline file has this column, the reporting file does not"
            raise ConfigError([ConfigIssue(source, 1, baseline.headers[name], message)])


def plot(evaluation: Evaluation, path: Path) -> None:
    """Baseline vs actual per period and the cumulative savings with the Annex B 68 % band of the
    first k periods (it widens with k, as on the dashboard)."""
    from agent.report.charts import savings_png

    periods = evaluation.result.periods
    band = evaluation.result.band(0.68)
    cumulative_baseline = (periods["adjusted_baseline_kwh"] + periods["non_routine_kwh"]).cumsum()
    half = [
        absolute_uncertainty(band.cv_rmse, band.n, k, band.rho, float(base), band.t)
        for k, base in enumerate(cumulative_baseline, start=1)
    ]
    cumulative = periods["cumulative_savings_kwh"].to_numpy(dtype=float)
    title = f"{evaluation.model_name}: {evaluation.verdict.status}"
    low, high = [float(v) for v in cumulative - half], [float(v) for v in cumulative + half]
    savings_png(path, periods, low, high, title=title)


def run_csv_savings(args: argparse.Namespace) -> int:
    try:
        baseline = _read(Path(args.baseline), args)
        reporting = _read(Path(args.reporting), args)
        _check_pair(baseline, reporting, str(args.reporting))
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_BAD_INPUT
    tz = args.timezone or "UTC"
    try:
        evaluation = evaluate(
            baseline.values, reporting.values, interval_minutes=baseline.interval_s // 60, tz=tz
        )
    except AnalyticsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    result = evaluation.to_dict()
    result["interval"] = baseline.granularity
    result["timezone"] = tz
    value = valued(result["savings_kwh"], args)
    if value:
        result["value"] = value
    if args.plot is not None:
        try:
            plot(evaluation, Path(args.plot))
        except OSError as exc:
            print(f"error: --plot {args.plot}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        result["plot"] = str(args.plot)
    sys.stdout.write(
        json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n"
        if args.json
        else format_evaluation(result)
    )
    if not evaluation.verdict.passed:
        print(f"error: {evaluation.verdict.summary()}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    return 0


def format_evaluation(result: dict[str, Any]) -> str:
    """The human summary of an `Evaluation.to_dict()` (plus `value` when factors were given)."""
    verified = result["status"] == "verified"
    nmbe = "n/a" if result["nmbe"] is None else f"{result['nmbe']:.2%}"
    lines = [
        f"baseline   {result['baseline']['start']} .. {result['baseline']['end']}   "
        f"reporting {result['reporting']['start']} .. {result['reporting']['end']}   "
        f"({result['interval']} rows, {result['timezone']})",
        f"model      {result['model']}",
        f"           {result['model_reason']}",
        f"fit        CV(RMSE) {result['cv_rmse']:.2%}, NMBE out of sample {nmbe}",
        *(f"check      {_describe(c)}" for c in result["verdict"]["checks"]),
        f"energy     adjusted baseline {result['adjusted_baseline_kwh']:,.0f} kWh, "
        f"actual {result['actual_kwh']:,.0f} kWh",
    ]
    figure = (
        f"{result['savings_kwh']:,.0f} kWh ({result['savings_percent']:.1f} % of the adjusted baseline), "
        f"+/- {result['band_68_kwh']:,.0f} kWh at 68 %, +/- {result['band_90_kwh']:,.0f} kWh at 90 %"
    )
    if verified:
        lines.append(f"savings    {figure}")
    else:
        lines.append(f"savings    NOT VERIFIED: {figure}")
    value = result.get("value")
    if value:
        parts = []
        if "yuan" in value:
            parts.append(f"{value['yuan']:,.0f} yuan at {value['tariff_yuan_per_kwh']:.4f} yuan/kWh")
        if "tce" in value:
            parts.append(f"{value['tce']:,.2f} tce at {value['kgce_per_kwh']:g} kgce/kWh")
        if "tco2" in value:
            parts.append(f"{value['tco2']:,.2f} tCO2 at {value['co2_kg_per_kwh']:g} kg/kWh")
        lines.append(f"value      {', '.join(parts)}" + ("" if verified else " (not verified)"))
    lines.append(f"verdict    {result['verdict']['summary']}")
    lines += [f"warning    {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"


def _describe(check: dict[str, Any]) -> str:
    value, limit = check["value"], check["limit"]
    shown = "n/a" if value != value else f"{value:.4g}"
    if limit is None:
        return f"{check['statistic']} {shown}: no published limit ({check['source']})"
    sign = "|x| <=" if check["comparison"] == "abs<=" else check["comparison"]
    return f"{check['statistic']} {shown} ({sign} {limit:.4g}): {check['outcome']} ({check['source']})"
