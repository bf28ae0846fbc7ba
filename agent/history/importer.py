"""`energy-agent import FILE.csv --site SITE.yaml`: an interval CSV into the site's history store.

The function here is the whole import path: the command calls it, and so does the demo for its
generated year. The file is read and checked by `agent.history.csvread` (times, interval, numbers)
against the columns this site accepts, and only a file without a single issue is written. Writes are
upserts keyed by (device or series, interval start), so importing the same file twice changes nothing
and a corrected file replaces what an earlier one wrote for the same intervals.

Columns (header names; the history series they become are named in `agent.mv.series`):

| column | becomes |
|---|---|
| `timestamp` | interval start: ISO 8601 with offset, or naive local time in the site's time zone |
| `<device>_kwh` | interval energy of a device of the site config, kWh |
| `energy_kwh` | interval energy of the site meter (the config's one root electricity meter) |
| `production`, or the config's `analytics.production.column` | production, in `analytics.production.unit` |
| `temperature_c`, `temperature_f` (converted), `temperature` (with `--temperature-unit`) | `temperature_c` |
| `<device>.loaded_h`, `.running_h`, `.air_m3`, `.pressure_bar`, `.pressure_min_bar` | compressor series |
| `air.header_pressure_bar`, `air.header_pressure_min_bar` | the air header's pressure, bar(g) |

Any other column is refused with the list of accepted ones (a simulator's truth columns among them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agent.config.site import Carrier, SiteConfig
from agent.errors import ConfigError, ConfigIssue
from agent.history.csvread import Column, ColumnMap, IntervalData, read_interval_csv, temperature_column
from agent.history.store import EnergyRow, HistoryStore
from agent.mv.series import (
    COMPRESSOR_FIELDS,
    HEADER_PRESSURE_MIN_SERIES,
    HEADER_PRESSURE_SERIES,
    TEMPERATURE_SERIES,
    compressor_series,
    production_series,
)

__all__ = ["SITE_ENERGY_COLUMN", "ImportSummary", "import_csv", "site_columns"]

SITE_ENERGY_COLUMN = "energy_kwh"
_ENERGY = "energy:"  # prefix that marks a column as interval energy of the device after it


@dataclass(frozen=True)
class ImportSummary:
    path: str
    rows: int
    granularity: str  # "15 min", "hourly", "daily", ...
    energy_devices: tuple[str, ...]
    series: tuple[str, ...]
    start: pd.Timestamp  # first interval start, UTC
    end: pd.Timestamp  # last interval end, UTC

    def __str__(self) -> str:
        what = ", ".join([*(f"{d} kWh" for d in self.energy_devices), *self.series])
        return (
            f"{self.path}: {self.rows} {self.granularity} rows, {self.start:%Y-%m-%d %H:%M}Z to "
            f"{self.end:%Y-%m-%d %H:%M}Z: {what}"
        )


def site_columns(config: SiteConfig, temperature_unit: str | None = None) -> ColumnMap:
    """The columns `config`'s site accepts (the table in this module's docstring)."""
    metered = {d.name for d in config.devices if d.carrier != Carrier.NONE}
    named = {d.name for d in config.devices}
    production = {"production", production_series(config)}
    site_meter = _site_meter(config)

    def known(device: str, names: set[str]) -> bool:  # a site that only imports names its devices here
        return bool(device) and (device in names or not config.devices)

    def column(header: str) -> Column | None:
        if header == SITE_ENERGY_COLUMN and site_meter is not None:
            return Column(_ENERGY + site_meter)
        if header.endswith("_kwh") and known(header.removesuffix("_kwh"), metered):
            return Column(_ENERGY + header.removesuffix("_kwh"))
        if header in production:
            return Column(production_series(config))
        if header in (HEADER_PRESSURE_SERIES, HEADER_PRESSURE_MIN_SERIES):
            return Column(header)
        device, dot, field = header.rpartition(".")
        if dot and field in COMPRESSOR_FIELDS and known(device, named):
            return Column(compressor_series(device, field))
        return temperature_column(header, temperature_unit)

    return column


def _site_meter(config: SiteConfig) -> str | None:
    """The device `energy_kwh` belongs to: the one root electricity meter; `site` on a site that only
    imports data (no devices); None (the column is refused) when the meter tree has several roots.

    The same root the rating sums (`agent.rating.measure.site_meters`) when there is one; several
    roots have no single "site energy" column to fill."""
    meters = {d.name: d.parent for d in config.devices if d.carrier == Carrier.ELECTRICITY}
    roots = [m for m, parent in meters.items() if parent not in meters]
    if not config.devices:
        return "site"
    return roots[0] if len(roots) == 1 else None


def import_csv(
    path: Path, config: SiteConfig, store: HistoryStore, *, temperature_unit: str | None = None
) -> ImportSummary:
    """Check `path` against the site's columns, then upsert every row; a bad file writes nothing."""
    try:
        data = read_interval_csv(path, site_columns(config, temperature_unit), timezone=config.site.timezone)
    except ConfigError as exc:
        raise ConfigError([_explain(issue, config) for issue in exc.issues]) from None
    energy = [c for c in data.values.columns if c.startswith(_ENERGY)]
    series = [c for c in data.values.columns if not c.startswith(_ENERGY)]
    store.write_energy(_energy_rows(data, energy))
    for name in series:
        store.write_series(name, data.values[name])
    return ImportSummary(
        str(path),
        data.rows,
        data.granularity,
        tuple(c.removeprefix(_ENERGY) for c in energy),
        tuple(series),
        data.values.index[0],
        data.values.index[-1] + pd.Timedelta(seconds=int(data.seconds[-1])),
    )


def _energy_rows(data: IntervalData, columns: list[str]) -> Iterator[EnergyRow]:
    starts = pd.DatetimeIndex(data.values.index).as_unit("s").asi8.tolist()
    seconds = data.seconds.tolist()
    for column in columns:
        device = column.removeprefix(_ENERGY)
        kwh = data.values[column].to_numpy()
        for i in np.flatnonzero(~np.isnan(kwh)).tolist():  # NaN: no data, not zero
            yield EnergyRow(device, starts[i], seconds[i], float(kwh[i]), "imported")


def _explain(issue: ConfigIssue, config: SiteConfig) -> ConfigIssue:
    """An unknown column gets the list of what this site accepts."""
    if issue.message != "unknown column":
        return issue
    hint = _accepted(config)
    if issue.path == SITE_ENERGY_COLUMN and config.devices:
        hint = "the site has no single root electricity meter: name the columns <device>_kwh"
    return ConfigIssue(issue.file, issue.line, issue.path, f"unknown column; {hint}")


def _accepted(config: SiteConfig) -> str:
    names = [d.name for d in config.devices]
    return (
        f"expected {SITE_ENERGY_COLUMN}, <device>_kwh, production"
        + (f" or {production_series(config)}" if production_series(config) != "production" else "")
        + f", {TEMPERATURE_SERIES}, temperature_f, <device>.<{'|'.join(COMPRESSOR_FIELDS)}>, "
        + f"{HEADER_PRESSURE_SERIES}, {HEADER_PRESSURE_MIN_SERIES}"
        + (f" (devices: {', '.join(names[:8])}{', ...' if len(names) > 8 else ''})" if names else "")
    )
