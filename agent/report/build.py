"""The M&V report of one period: a self-contained HTML file (charts embedded as PNG) and, where
Chromium is installed, the same page printed to PDF.

It states what an auditor asks for: the IPMVP option and model form, the baseline and reporting
windows, the model statistics (R2, CV(RMSE), NMBE, t-statistics) and the Guideline 14 checks, the
non-routine adjustments, the savings with their Annex B uncertainty, and every factor with its source.
"""

from __future__ import annotations

import calendar
import html
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from agent.analytics import AnalyticsError, MeterTree
from agent.errors import AgentError, ConfigError, ConfigIssue
from agent.report.charts import band_chart, bar_chart, lines_chart
from agent.web.source import DashboardSource

__all__ = ["NoReportData", "ReportFiles", "find_chromium", "parse_period", "print_pdf", "write_report"]

_OPTION_SCOPE = {"B": "retrofit isolation, sub-system meter", "C": "whole facility, main meter"}
_PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2]))?$")
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
)


class NoReportData(AgentError):
    """The history holds no energy for the report's period: there is nothing to report."""


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path | None
    note: str


def parse_period(text: str) -> tuple[date, date]:
    """'YYYY-MM' or 'YYYY' -> first and last local day."""
    match = _PERIOD.match(text)
    if not match:
        raise ConfigError([ConfigIssue("report", None, "--period", f"{text!r}: use YYYY-MM or YYYY")])
    year = int(match.group(1))
    if match.group(2) is None:
        return date(year, 1, 1), date(year, 12, 31)
    month = int(match.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: Path, pdf_path: Path, chromium: str, timeout_s: float = 90.0) -> None:
    """Chromium headless --print-to-pdf; raises OSError when it produced no PDF."""
    with tempfile.TemporaryDirectory(prefix="energy-agent-pdf-") as profile:
        cmd = [
            chromium,
            *_CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise OSError(f"report: {chromium} did not write {pdf_path}")


def write_report(source: DashboardSource, period: str, out_dir: Path, *, pdf: bool = True) -> ReportFiles:
    """Write report-<site>-<period>.html (and .pdf when Chromium is available) into out_dir.

    Raises NoReportData (and writes nothing) when the history has no energy in the period.
    """
    start, end = parse_period(period)
    page = render_html(source, period, start, end)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"report-{source.settings.site}-{period}"
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(page, encoding="utf-8")
    if not pdf:
        return ReportFiles(html_path, None, "PDF not requested")
    chromium = find_chromium()
    if chromium is None:
        return ReportFiles(html_path, None, "no PDF engine (install chromium): HTML only")
    pdf_path = out_dir / f"{stem}.pdf"
    try:
        print_pdf(html_path, pdf_path, chromium)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ReportFiles(html_path, None, f"PDF failed ({exc}): HTML only")
    return ReportFiles(html_path, pdf_path, f"PDF printed with {chromium}")


# ---------------------------------------------------------------- HTML


def _e(value: object) -> str:
    return html.escape(str(value))


def _n(value: Any, digits: int = 0) -> str:
    """A number as printed; never "-0": a balance of -0.3 kWh is zero to the reader."""
    if value is None:
        return "—"
    shown = round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{0.0 if shown == 0 else shown:,.{digits}f}"


def _pct(value: Any, digits: int = 1) -> str:
    return "—" if value is None else f"{_n(100 * float(value), digits)} %"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(uri: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{_e(alt)}"><figcaption>{_e(alt)}</figcaption></figure>'


def render_html(source: DashboardSource, period: str, start: date, end: date) -> str:
    energy = source.energy(start.isoformat(), _next_day(end), "day")
    if not any(v is not None for values in energy.get("series", {}).values() for v in values):
        raise NoReportData(f"no energy data between {start} and {end} (local days) in the history")
    sv = source.savings(start, end)
    site = source.settings.display_name or source.settings.site
    parts = [
        _head(f"{site} - M&V report {period}"),
        f"<h1>{_e(site)}: energy and savings report {_e(period)}</h1>",
        f"<p class='muted'>Period {start} to {end} (local time, {_e(source.settings.timezone)}). "
        f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC by energy-agent.</p>",
        _energy_section(energy, source),
        _savings_sections(sv)
        if sv.get("available")
        else f"<h2>Savings</h2><p class='note'>{_e(sv.get('reason'))}</p>",
        _tree_section(energy, source),
        _air_section(source.compressors(first=start, last=end)),
        "</body></html>",
    ]
    return "\n".join(parts)


def _next_day(day: date) -> str:
    return date.fromordinal(day.toordinal() + 1).isoformat()


def _head(title: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
@page {{ size: A4; margin: 14mm 12mm; }}
body {{ font-family: system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; color:#1d2733;
  max-width:980px; margin:24px auto; }}
@media print {{ body {{ margin:0 auto; }} }}
h1 {{ font-size:22px; }} h2 {{ font-size:17px; margin-top:28px; border-bottom:2px solid #0b6e4f; }}
table {{ border-collapse:collapse; width:100%; font-size:13px; margin:8px 0; }}
th, td {{ border:1px solid #d5dbe1; padding:4px 6px; text-align:left; }} th {{ background:#eef2f5; }}
figure {{ margin:8px 0; }} img {{ max-width:100%; }} figcaption, .muted {{ color:#6b7785; font-size:12px; }}
.note {{ background:#fff8e6; border:1px solid #f0d9a0; padding:6px 10px; }}
@media print {{ h2 {{ break-after:avoid; }} figure, table {{ break-inside:avoid; }} }}
</style></head><body>"""


def _energy_section(energy: dict[str, Any], source: DashboardSource) -> str:
    series: dict[str, list[float | None]] = energy.get("series", {})
    if not series:
        return "<h2>Energy</h2><p class='note'>No energy data in this period.</p>"
    rows = [
        [_e(name), _n(sum(v for v in values if v is not None), 0)] for name, values in sorted(series.items())
    ]
    site = energy.get("site") or {}
    meters = [m for m in site.get("site_meters", []) if m in series]
    daily = _site_daily(series, meters)
    chart = bar_chart(energy["x"], daily, "kWh per day") if meters else ""
    return (
        "<h2>Energy</h2>"
        + _partial_note(energy, site)
        + (_site_table(site) if site else "")
        + _table(["Meter", "Energy in period, kWh"], rows)
        + (_img(chart, f"Daily site energy ({' + '.join(meters)}), kWh") if chart else "")
    )


def _partial_note(energy: dict[str, Any], site: dict[str, Any]) -> str:
    """A period that reaches past now, or misses intervals, says so before its per-unit figures."""
    completeness = site.get("completeness")
    notes = []
    if energy.get("partial"):
        notes.append(f"The period is not over: data through {_e(str(energy.get('through', ''))[:16])}.")
    if completeness is not None and completeness < 0.999:
        notes.append(f"Data completeness {_pct(completeness)}: some intervals are missing.")
    if not notes:
        return ""
    caveat = "Energy per unit of a partial period is not comparable with a whole one."
    return f"<p class='note' id='partial-period'>{' '.join(notes)} {caveat}</p>"


def _site_daily(series: dict[str, list[float | None]], meters: list[str]) -> list[float | None]:
    """Site energy per day: the sum of the site meters, missing where any of them is missing."""
    days = zip(*(series[m] for m in meters), strict=True) if meters else iter(())
    return [
        None if any(v is None for v in day) else float(sum(v for v in day if v is not None)) for day in days
    ]


def _site_table(site: dict[str, Any]) -> str:
    unit = site.get("production_unit", "unit")
    eui = site.get("eui_kwh_per_unit")
    return _table(
        ["Site meters", "Site energy, kWh", f"Production, {unit}", f"Energy per {unit}, kWh", "Completeness"],
        [
            [
                _e(" + ".join(site.get("site_meters", []))),
                _n(site.get("energy_kwh"), 0),
                _n(site.get("production"), 3),
                _n(eui, 4) if eui is not None else "—",
                _pct(site.get("completeness")),
            ]
        ],
    )


def _savings_sections(sv: dict[str, Any]) -> str:
    return "\n".join(
        [
            _method_section(sv),
            _stats_section(sv),
            _adjustments_section(sv),
            _result_section(sv),
            _factors_section(sv),
        ]
    )


def _method_section(sv: dict[str, Any]) -> str:
    b = sv["baseline"]
    rows = [
        [
            "IPMVP option",
            f"Option {_e(b['ipmvp_option'])} ({_OPTION_SCOPE.get(b['ipmvp_option'], '')})",
        ],
        [
            "Model form",
            f"{_e(b['kind'])} change-point regression, {_e(b['granularity'])} (ASHRAE Guideline 14-2014)",
        ],
        ["Equation", _e(b["equation"])],
        ["Balance points", f"heating {_e(b['heating_bp_c'])} degC, cooling {_e(b['cooling_bp_c'])} degC"],
        ["Baseline period", f"{_e(b['window']['start'])} to {_e(b['window']['end'])}"],
        ["Reporting period (this report)", f"{_e(sv['reporting']['start'])} to {_e(sv['reporting']['end'])}"],
    ]
    notes = "".join(f"<li>{_e(w)}</li>" for w in b.get("warnings", []))
    return (
        "<h2>Method</h2>" + _table(["", ""], rows) + (f"<p>Model notes:</p><ul>{notes}</ul>" if notes else "")
    )


def _stats_section(sv: dict[str, Any]) -> str:
    st = sv["baseline"]["stats"]
    stats = _table(
        ["n", "p", "R2", "adj. R2", "CV(RMSE)", "NMBE", "lag-1 autocorrelation"],
        [
            [
                str(st["n"]),
                str(st["p"]),
                _n(st["r2"], 4),
                _n(st["adj_r2"], 4),
                _pct(st["cv_rmse"], 2),
                _pct(st["nmbe"], 3),
                _n(st["rho"], 3),
            ]
        ],
    )
    coefs = _table(
        ["Term", "Coefficient", "Std. error", "t-statistic"],
        [
            [_e(k), _n(v, 4), _n(st["std_errors"].get(k), 4), _n(st["t_stats"].get(k), 2)]
            for k, v in sv["baseline"]["coefficients"].items()
        ],
    )
    checks = _table(
        ["Check", "Value", "Limit", "Passed", "Source"],
        [
            [
                _e(c["name"]),
                _n(c["value"], 4),
                _e(c["limit"]),
                "yes" if c["passed"] else "NO",
                _e(c["source"]),
            ]
            for c in sv["acceptance"]["checks"]
        ],
    )
    verdict = "meets" if sv["acceptance"]["passed"] else "does NOT meet"
    return (
        "<h2>Model statistics</h2>"
        + stats
        + coefs
        + f"<p>The baseline model {verdict} the ASHRAE Guideline 14 acceptance criteria:</p>"
        + checks
    )


def _adjustments_section(sv: dict[str, Any]) -> str:
    rows = [
        [_e(a["start"]), _e(a["end"]), _n(a["kwh"], 0), _e(a["reason"])] for a in sv.get("adjustments", [])
    ]
    body = _table(["From", "To", "kWh", "Reason"], rows) if rows else "<p>No non-routine adjustments.</p>"
    return (
        "<h2>Adjustments</h2><p>Routine adjustments: the model re-evaluated on the reporting period's "
        "production and weather (adjusted baseline).</p>" + body
    )


def _result_section(sv: dict[str, Any]) -> str:
    periods = sv["periods"]
    x = [p.get("period_start") or p.get("date") for p in periods]
    chart1 = lines_chart(
        x,
        {
            "adjusted baseline": [p["adjusted_baseline_kwh"] for p in periods],
            "actual": [p["actual_kwh"] for p in periods],
        },
        "kWh per day",
    )
    parts = ["<h2>Savings</h2>", _img(chart1, "Adjusted baseline vs actual energy, kWh per day")]
    if periods and "band_68_low_kwh" in periods[0]:
        chart2 = band_chart(
            x,
            [p["cumulative_savings_kwh"] for p in periods],
            [p["band_68_low_kwh"] for p in periods],
            [p["band_68_high_kwh"] for p in periods],
            "kWh",
        )
        parts.append(_img(chart2, "Cumulative savings with the 68 % uncertainty band (Guideline 14 Annex B)"))
    value = sv["value"]
    parts.append(
        _table(
            [
                "Adjusted baseline, kWh",
                "Non-routine, kWh",
                "Actual, kWh",
                "Savings, kWh",
                "Savings, %",
                "Value, CNY",
                "tce",
                "tCO2",
            ],
            [
                [
                    _n(sv["baseline_kwh"]),
                    _n(sv["non_routine_kwh"]),
                    _n(sv["actual_kwh"]),
                    _n(sv["savings_kwh"]),
                    _pct(sv["fraction"]),
                    _n(value["yuan"]),
                    _n(value["tce"], 2),
                    _n(value["tco2"], 2),
                ]
            ],
        )
    )
    parts.append(
        _table(
            [
                "Confidence",
                "t",
                "Absolute uncertainty, kWh",
                "Fractional savings uncertainty",
                "n",
                "n'",
                "m",
            ],
            [
                [
                    _pct(u["confidence"], 0),
                    _n(u["t"], 3),
                    "± " + _n(u["absolute_kwh"]),
                    _pct(u["fraction_of_savings"]),
                    str(u["n"]),
                    _n(u["n_effective"], 1),
                    str(u["m"]),
                ]
                for u in sv["uncertainty"]
            ],
        )
    )
    verdict = "below" if sv["meets_guideline_14"] else "NOT below"
    parts.append(
        f"<p>The savings uncertainty at 68 % confidence is {verdict} 50 % of the savings (Guideline 14).</p>"
    )
    return "\n".join(parts)


def _factors_section(sv: dict[str, Any]) -> str:
    value = sv["value"]
    rows = [
        [
            _e(f.get("name") or f.get("carrier") or ""),
            _n(f.get("value"), 4),
            _e(f.get("unit", "")),
            _e(f.get("source", "")),
        ]
        for f in value["factors"]
    ]
    rows.append(
        [
            "electricity price (effective, reporting load shape)",
            _n(value["price_yuan_per_kwh"], 4),
            "CNY/kWh",
            _e(sv["tariff"]["source"]),
        ]
    )
    return "<h2>Factors used</h2>" + _table(["Factor", "Value", "Unit", "Source"], rows)


def _tree_section(energy: dict[str, Any], source: DashboardSource) -> str:
    totals = {k: sum(v for v in vals if v is not None) for k, vals in energy.get("series", {}).items()}
    parents = {m: p for m, p in source.settings.parents.items() if m in totals}
    try:
        balance = MeterTree({m: (p if p in parents else None) for m, p in parents.items()}).balance(totals)
    except AnalyticsError as exc:
        return f"<h2>Meter tree balance</h2><p class='note'>{_e(exc)}</p>"
    rows = [
        [
            _e(meter),
            _n(b["meter_kwh"]),
            _n(b["children_kwh"]),
            _n(b["unaccounted_kwh"]),
            _pct(b["unaccounted_share"]),
        ]
        for meter, b in balance.iterrows()
    ]
    headers = ["Meter", "kWh", "Sub-meters, kWh", "Unaccounted, kWh", "Share"]
    return "<h2>Meter tree balance</h2>" + _table(headers, rows) if rows else ""


def _air_section(air: dict[str, Any]) -> str:
    """The compressed-air figures of the period (the dashboard's, `compressed_air_room`)."""
    if not air.get("available"):
        return (
            ""
            if str(air.get("reason")).startswith("no compressors configured")
            else (f"<h2>Compressed air</h2><p class='note'>{_e(air.get('reason'))}</p>")
        )
    room = air["room"]
    leak = room["leak"]
    if leak["m3_min"] is None:
        leak_text = f"not computed: {_e(leak['reason'])}"
    else:
        low, high = leak["ci90_m3_min"]
        leak_text = (
            f"{_n(leak['m3_min'], 2)} m³/min ({_e(leak['method'])}; 90 % {_n(low, 2)}-{_n(high, 2)}, "
            f"{leak['intervals_used']} non-production intervals), {_pct(leak['share'])} of the air"
        )
    summary = _table(
        ["Figure", "Value"],
        [
            [
                "Room specific power",
                f"{_n(room['specific_power'], 2)} kW/(m³/min) ({_e(', '.join(room['air_methods']))})",
            ],
            ["Leak", leak_text],
        ],
    )
    rows = [
        [
            _e(m["device"]),
            _e(m["control"]),
            " / ".join(_pct(m["state_shares"][k], 0) for k in ("off", "unloaded", "loaded")),
            _e(m["air_method"]),
            _n(m["specific_power"], 2) if m["specific_power"] is not None else _e(m["specific_power_note"]),
            _e(m["grade"]) if m["grade"] is not None else _e(m["grade_note"]),
        ]
        for m in room["machines"]
    ]
    headers = ["Machine", "Control", "Off / unloaded / loaded", "Air", "kW/(m³/min)", "GB 19153 grade"]
    advice = "".join(f"<li>{_e(a['message'])}</li>" for a in room["advice"])
    return (
        "<h2>Compressed air</h2>"
        + summary
        + _table(headers, rows)
        + (f"<p>Advice:</p><ul>{advice}</ul>" if advice else "")
    )
