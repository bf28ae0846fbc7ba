"""Report charts as PNG data URIs. Uses matplotlib's object API (no pyplot): no global figure state,
no display backend, safe to call from a web server's worker threads."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["band_chart", "bar_chart", "lines_chart", "savings_png"]

_GREEN, _GREY, _BLUE = "#0b6e4f", "#8a96a3", "#2f7fb5"


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=(9, 3.2), dpi=110)
    ax = fig.add_subplot()
    ax.grid(True, color="#e3e7eb", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _dates(x: Sequence[str]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(x)))


def bar_chart(x: Sequence[str], y: Sequence[float | None], ylabel: str) -> str:
    fig, ax = _figure()
    values = [float("nan") if v is None else v for v in y]
    ax.bar(_dates(x), values, width=0.8, color=_BLUE)
    ax.set_ylabel(ylabel)
    fig.autofmt_xdate()
    return _data_uri(fig)


def lines_chart(x: Sequence[str], series: dict[str, Sequence[float | None]], ylabel: str) -> str:
    fig, ax = _figure()
    colors = [_GREY, _GREEN, _BLUE, "#e3a33b"]
    for i, (name, y) in enumerate(series.items()):
        ax.plot(_dates(x), [float("nan") if v is None else v for v in y], label=name, color=colors[i % 4])
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="upper left")
    fig.autofmt_xdate()
    return _data_uri(fig)


def band_chart(
    x: Sequence[str], center: Sequence[float], low: Sequence[float], high: Sequence[float], ylabel: str
) -> str:
    fig, ax = _figure()
    dates = _dates(x)
    ax.fill_between(dates, low, high, color=_GREEN, alpha=0.18, linewidth=0, label="68 % band (Annex B)")
    ax.plot(dates, center, color=_GREEN, linewidth=2, label="cumulative savings")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="upper left")
    fig.autofmt_xdate()
    return _data_uri(fig)


def savings_png(
    path: Path,
    periods: pd.DataFrame,
    low: Sequence[float],
    high: Sequence[float],
    *,
    title: str,
    unit: str = "kWh",
) -> None:
    """Write a PNG: adjusted baseline vs actual per period above, cumulative savings with its 68 %
    band below (`periods`: `adjusted_baseline_kwh`, `actual_kwh`, `cumulative_savings_kwh`)."""
    fig = Figure(figsize=(9, 6), dpi=110)
    top, bottom = fig.subplots(2, 1, sharex=True)
    dates = pd.DatetimeIndex(periods.index)
    for ax in (top, bottom):
        ax.grid(True, color="#e3e7eb", linewidth=0.8)
        ax.spines[["top", "right"]].set_visible(False)
    top.plot(dates, periods["adjusted_baseline_kwh"], color=_GREY, label="adjusted baseline (model)")
    top.plot(dates, periods["actual_kwh"], color=_BLUE, label="actual")
    top.set_ylabel(f"{unit} per period")
    top.set_title(title, fontsize=10)
    top.legend(frameon=False, loc="best")
    bottom.fill_between(dates, low, high, color=_GREEN, alpha=0.18, linewidth=0, label="68 % band (Annex B)")
    bottom.plot(
        dates, periods["cumulative_savings_kwh"], color=_GREEN, linewidth=2, label="cumulative savings"
    )
    bottom.set_ylabel(f"cumulative {unit}")
    bottom.legend(frameon=False, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, format="png")
