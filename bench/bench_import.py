"""`energy-agent import` speed: a year of 15-minute rows (local Berlin times across both DST
changes), site energy + 20 sub-meters + production + temperature + 10 compressors x 4 series
(the demo factory's shape), read and checked by agent/history/csvread.py, then upserted.

    .venv/bin/python bench/bench_import.py [--rows-per-day 96] [--days 365]

Prints the seconds of each stage (best of 3) and rows/s; the second import (idempotent upsert of
the same file) is timed too.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from agent.config.site import SiteConfig
from agent.history.csvread import read_interval_csv
from agent.history.importer import import_csv, site_columns
from agent.history.store import HistoryStore

TZ = "Europe/Berlin"


def site(meters: int, compressors: int) -> SiteConfig:
    bus = {"name": "b", "type": "tcp", "host": "127.0.0.1", "port": 5020}
    devices = [{"name": "main", "bus": "b", "unit_id": 1, "profile": "eastron/sdm630"}]
    devices += [
        {"name": f"m{i:02d}", "bus": "b", "unit_id": 2 + i, "profile": "eastron/sdm630", "parent": "main"}
        for i in range(meters)
    ]
    devices += [
        {
            "name": f"ac{i:02d}",
            "bus": "b",
            "unit_id": 100 + i,
            "profile": "generic/compressor_load_unload",
            "parent": "main",
        }
        for i in range(compressors)
    ]
    return SiteConfig.model_validate(
        {"site": {"name": "bench", "timezone": TZ}, "buses": [bus], "devices": devices}
    )


def write_file(path: Path, config: SiteConfig, days: int, per_day: int) -> int:
    index = pd.date_range("2026-01-01", periods=days, freq="D", tz=TZ)
    index = pd.date_range(
        index[0], index[-1] + pd.Timedelta(days=1), freq=f"{86400 // per_day}s", inclusive="left"
    )
    rng = np.random.default_rng(1)
    columns: dict[str, object] = {"timestamp": [f"{t:%Y-%m-%d %H:%M}" for t in index]}
    columns["energy_kwh"] = rng.uniform(100, 200, len(index)).round(3)
    for d in config.devices[1:]:
        columns[f"{d.name}_kwh"] = rng.uniform(1, 20, len(index)).round(3)
        if d.name.startswith("ac"):
            for field in ("loaded_h", "running_h", "air_m3", "pressure_bar"):
                columns[f"{d.name}.{field}"] = rng.uniform(0, 1, len(index)).round(4)
    columns["production"] = rng.uniform(0, 3, len(index)).round(4)
    columns["temperature_c"] = rng.uniform(-5, 30, len(index)).round(2)
    pd.DataFrame(columns).to_csv(path, index=False)
    return len(index)


def best(seconds: list[float]) -> float:
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows-per-day", type=int, default=96)
    args = parser.parse_args()
    config = site(20, 10)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "year.csv"
        rows = write_file(csv, config, args.days, args.rows_per_day)
        cells = rows * (len(pd.read_csv(csv, nrows=1).columns) - 1)
        size_mb = csv.stat().st_size / 1e6
        reads, first, again = [], [], []
        for i in range(3):
            t = time.perf_counter()
            read_interval_csv(csv, site_columns(config), timezone=TZ)
            reads.append(time.perf_counter() - t)
            with HistoryStore(Path(tmp) / f"h{i}.db") as store:
                t = time.perf_counter()
                import_csv(csv, config, store)
                first.append(time.perf_counter() - t)
                t = time.perf_counter()
                import_csv(csv, config, store)
                again.append(time.perf_counter() - t)
    print(f"file: {rows} rows x {cells // rows} value columns = {cells} cells, {size_mb:.1f} MB")
    print(f"read + check (csvread): {best(reads):.2f} s  ({rows / best(reads):,.0f} rows/s)")
    print(f"import into an empty store: {best(first):.2f} s  ({rows / best(first):,.0f} rows/s)")
    print(f"re-import (same file, upsert): {best(again):.2f} s")


if __name__ == "__main__":
    main()
