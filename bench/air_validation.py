"""Compressed-air figures on the simulated demo factory vs the simulator's truth (issue 18).

    .venv/bin/python bench/air_validation.py [--days 28]

Generates `--days` days of history before and after the demo's retrofit (`simulators.history`, the
scenario's own dates), turns it into a site export (`agent.demo.import_format`) and imports it through
`energy-agent import`'s path into a history store, three times: with each machine's flow totaliser
('flow meter'), without it (VSD air from the data-sheet power-to-flow curve of the demo config), and
without it and without the curves (VSD air = loaded hours x rated FAD, the old estimate). The figures
are `agent.mv.model.compressed_air_room`, the ones the dashboard, rating and report show.

Truth: air per machine is the simulator's `{c}_fad_m3`; the leak is `air_true_leak_m3` when the
simulator writes it, else the scenario's leak definition (simulators/physics.py: leak_m3min at the band
middle, proportional to absolute pressure). Targets: leak within 15 %, room specific power within 3 %,
VSD air within 5 %.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agent.analytics.compressors import RoomKpis
from agent.config.site import SiteConfig
from agent.demo import demo_site_config, import_format, served_endpoints
from agent.history.importer import import_csv
from agent.history.store import HistoryStore
from agent.mv.model import MvModel
from agent.mv.series import compressor_series
from agent.mv.site import mv_site
from simulators.history import generate_history
from simulators.scenario import Scenario, load_scenario

ATM_BAR = 1.01325


@dataclass(frozen=True)
class Window:
    label: str
    start: pd.Timestamp
    end: pd.Timestamp


def _true_leak_m3_min(
    scenario: Scenario, history: pd.DataFrame, window: Window, interval_min: float
) -> float:
    rows = history[(history.index >= window.start) & (history.index < window.end)]
    if "air_true_leak_m3" in rows.columns:
        return float(rows["air_true_leak_m3"].mean()) / interval_min
    air, fix = scenario.air, scenario.retrofit
    assert air is not None
    before = np.array(air.pressure_band_bar)
    after = fix is not None and window.start >= pd.Timestamp(fix.date, tz=scenario.tz)
    band = np.array(fix.pressure_band_bar) if after and fix and fix.pressure_band_bar else before
    leak = fix.leak_m3min if after and fix and fix.leak_m3min is not None else air.leak_m3min
    return float(leak * (band.mean() + ATM_BAR) / (before.mean() + ATM_BAR))


def _store(workdir: Path, name: str, export: pd.DataFrame, config: SiteConfig) -> Path:
    csv, path = workdir / f"{name}.csv", workdir / f"{name}.sqlite"
    export.round(6).to_csv(csv, index=False)
    with HistoryStore(path) as store:
        import_csv(csv, config, store)
    return path


def _without_curves(config: SiteConfig) -> SiteConfig:
    specs = tuple(s.model_copy(update={"flow_curve": None}) for s in config.analytics.compressors)
    analytics = config.analytics.model_copy(update={"compressors": specs})
    return config.model_copy(update={"analytics": analytics})


def _without_base_demand(config: SiteConfig) -> SiteConfig:
    air = config.analytics.compressed_air.model_copy(update={"base_demand_m3_min": None})
    return config.model_copy(
        update={"analytics": config.analytics.model_copy(update={"compressed_air": air})}
    )


def _room(config: SiteConfig, store_path: Path, window: Window) -> RoomKpis:
    model = MvModel(mv_site(config), store_path)
    with model.store() as store:
        return model.compressed_air(store, window.start.tz_convert("UTC"), window.end.tz_convert("UTC"))


def _err(reported: float | None, true: float) -> str:
    if reported is None:
        return "-"
    return f"{reported / true - 1:+.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=28, help="days before and after the retrofit")
    args = parser.parse_args()
    scenario = load_scenario("demo_factory")
    assert scenario.retrofit is not None
    assert scenario.air is not None
    retrofit = pd.Timestamp(scenario.retrofit.date, tz=scenario.tz)
    first_day = (scenario.retrofit.date - scenario.start.date()).days - args.days
    windows = [
        Window("before retrofit", retrofit - pd.Timedelta(days=args.days), retrofit),
        Window("after retrofit", retrofit, retrofit + pd.Timedelta(days=args.days)),
    ]
    config = SiteConfig.model_validate(
        demo_site_config(scenario, served_endpoints(scenario, 15020), None, 15.0)
    )
    vsds = [c.name for c in scenario.air.compressors if c.kind == "vsd"]
    devices = [d.name for d in scenario.devices if d.kind == "compressor"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        result = generate_history(scenario, 2 * args.days, workdir / "sim", first_day=first_day)
        generated = pd.read_csv(result.history_csv)
        history = generated.set_index(pd.DatetimeIndex(pd.to_datetime(generated["timestamp"], utc=True)))
        history.index = history.index.tz_convert(scenario.tz)
        export = import_format(scenario, generated)
        metered = _store(workdir, "metered", export, config)
        no_air = export.drop(columns=[compressor_series(d, "air_m3") for d in devices])
        unmetered = _store(workdir, "unmetered", no_air, config)
        interval_min = config.analytics.interval_minutes
        print(
            f"demo_factory, {args.days} days each side of the retrofit ({scenario.retrofit.date}); "
            f"declared base demand {config.analytics.compressed_air.base_demand_m3_min} m3/min\n"
        )
        print("| window | figure | true | reported | error | method |")
        print("|---|---|---|---|---|---|")
        for window in windows:
            rows = history[(history.index >= window.start) & (history.index < window.end)]
            true_air = {d: float(rows[f"{d}_fad_m3"].sum()) for d in devices}
            kwh = float(sum(rows[f"{d}_kwh"].sum() for d in devices))
            true_sp = 60.0 * kwh / sum(true_air.values())
            true_vsd = sum(true_air[d] for d in vsds)
            true_leak = _true_leak_m3_min(scenario, history, window, interval_min)
            cases = [
                ("flow meter", _room(config, metered, window)),
                ("no meter, curves", _room(config, unmetered, window)),
                ("no meter, no curves", _room(_without_curves(config), unmetered, window)),
                ("flow meter, no base demand declared", _room(_without_base_demand(config), metered, window)),
            ]
            for name, room in cases:
                truth = Truth(true_sp, true_vsd, true_leak)
                for figure, true, reported, method in _lines(room, truth, vsds, leak_only="declared" in name):
                    print(
                        f"| {window.label} | {figure} ({name}) | {_fmt(true)} | {_fmt(reported)} | "
                        f"{_err(reported, true)} | {method} |"
                    )


@dataclass(frozen=True)
class Truth:
    specific_power: float
    vsd_air_m3: float
    leak_m3_min: float


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"


def _lines(
    room: RoomKpis, truth: Truth, vsds: list[str], *, leak_only: bool
) -> list[tuple[str, float, float | None, str]]:
    leak = room.leak
    ci = "" if leak.ci90_m3_min is None else f", 90 % {leak.ci90_m3_min[0]:.2f}-{leak.ci90_m3_min[1]:.2f}"
    how = (
        f"{leak.method}, {leak.intervals_used} idle intervals{ci}" if leak.m3_min is not None else leak.reason
    )
    lines = [("leak, m3/min", truth.leak_m3_min, leak.m3_min, str(how))]
    if leak_only:
        return lines
    vsd = sum(k.air_m3 for k in room.machines if k.device in vsds)
    methods = ", ".join(sorted({k.air_method for k in room.machines if k.device in vsds}))
    return [
        (
            "room specific power, kW/(m3/min)",
            truth.specific_power,
            room.specific_power,
            ", ".join(room.air_methods),
        ),
        ("VSD air, m3", truth.vsd_air_m3, vsd, methods),
        *lines,
    ]


if __name__ == "__main__":
    main()
