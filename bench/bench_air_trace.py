"""How long `GET /api/compressors/trace` takes to build its answer, and how many points it serves.

    .venv/bin/python bench/bench_air_trace.py [--machines 10] [--interval 1]

A history store with `--machines` compressors recorded every `--interval` minutes for 35 days
(loaded/running hours, discharge pressure mean and minimum) and a header pressure transmitter; the
trace is built by `HistorySource.compressor_trace` (the endpoint's own call) for 24 h, 7 days and
31 days, each 5 times after one warm-up. The demo runs 10 machines at 1-minute intervals.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from agent.config.analytics import AnalyticsConfig, CompressorSpec
from agent.history.store import HistoryStore
from agent.mv.site import MvSite
from agent.web import HistorySource
from agent.web.source import DashboardSettings

TZ = "Asia/Shanghai"


def build(
    path: Path, machines: int, interval_min: int, days: int = 35
) -> tuple[DashboardSettings, pd.Timestamp]:
    end = pd.Timestamp("2025-10-15 14:00", tz=TZ).tz_convert("UTC")
    index = pd.date_range(end - pd.Timedelta(days=days), end, freq=f"{interval_min}min", inclusive="left")
    rng = np.random.default_rng(1)
    hours = interval_min / 60.0
    with HistoryStore(path) as store:
        energy = {}
        for m in range(machines):
            device = f"ac{m + 1:02d}"
            running = np.where(rng.uniform(size=len(index)) < 0.7, hours, 0.0)
            loaded = running * rng.uniform(0.2, 1.0, len(index))
            pressure = 6.8 + 0.3 * np.sin(np.arange(len(index)) / 7.0 + m)
            store.write_series(f"{device}.running_h", pd.Series(running, index=index))
            store.write_series(f"{device}.loaded_h", pd.Series(loaded, index=index))
            store.write_series(f"{device}.pressure_bar", pd.Series(pressure, index=index))
            store.write_series(f"{device}.pressure_min_bar", pd.Series(pressure - 0.1, index=index))
            energy[device] = loaded * 90.0 + (running - loaded) * 25.0
        store.write_energy_frame(pd.DataFrame(energy, index=index), interval_min * 60, method="counter")
        header = 6.7 + 0.3 * np.sin(np.arange(len(index)) / 5.0)
        store.write_series("air.header_pressure_bar", pd.Series(header, index=index))
        store.write_series("air.header_pressure_min_bar", pd.Series(header - 0.15, index=index))
    analytics = AnalyticsConfig(
        timezone=TZ,
        interval_minutes=interval_min,
        compressors=tuple(
            CompressorSpec(device=f"ac{m + 1:02d}", rated_power_kw=90, rated_fad_m3_min=16.0)
            for m in range(machines)
        ),
    )
    parents: dict[str, str | None] = {f"ac{m + 1:02d}": None for m in range(machines)}
    return DashboardSettings(MvSite.of_tree("bench", parents, analytics=analytics)), end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=10)
    parser.add_argument("--interval", type=int, default=1, help="interval length, minutes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        settings, end = build(path, args.machines, args.interval)
        source = HistorySource(path, settings, clock=lambda: end)
        print(f"{args.machines} machines, {args.interval}-minute intervals")
        for hours in (24, 24 * 7, 24 * 31):
            source.compressor_trace(hours)
            start = time.perf_counter()
            for _ in range(5):
                body = source.compressor_trace(hours)
            took = (time.perf_counter() - start) / 5
            points = len(body["x"])
            print(
                f"  {hours:4d} h: {took * 1000:6.0f} ms, {points} points per series "
                f"(step {body['step_minutes']} min)"
            )


if __name__ == "__main__":
    main()
