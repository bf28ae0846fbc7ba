"""The proof of issue 19 on the simulator: a week of the machines' own cascade vs the agent's `active`.

    .venv/bin/python bench/control_week.py [--baseline-days 35] [--days 7] [--baseline-span-days 7]
        [--run-on-s SECONDS] [--dt-s SECONDS] [--scenario NAME] [--site PATH]

The compressor room of `simulators/scenarios/control_week.yaml` (4 load/unload machines, 1 VSD, 6 m3
receiver; `--scenario` another), stepped at 1 s (`--dt-s`: 0.5, 0.25, ...) through its days'
second-by-second demand (`simulators.controlweek`), each run of consecutive days one continuous run
(the machines, their timers, the receiver and the agent carry across midnight; one warm-up):

- the baseline days under the machines' own cascade (no agent, no heartbeat), in continuous spans of
  `--baseline-span-days` (a week; 1: each day from a cold start);
- the reporting week under the cascade, one continuous week;
- the same reporting week under `agent.control.decide` with the `control:` section of
  `tests/data/control_week_site.yaml` (`--site` another; mode active, writes_enabled), its writes
  through the profiles' registers into the simulated controllers, one continuous week.

Then the agent's own M&V: the baseline days (cascade) and the reporting week (active) are written as
the site's 15-minute export, imported with `agent.history.importer.import_csv` (`energy-agent import`)
into a `HistoryStore`, and `HistorySource.savings` (what `energy-agent savings` prints) reports the
reporting week's savings with the room meter as the boundary (Option B) and production as the
normaliser; the truth is the same week under the cascade minus the week under the agent.
Prints the table of docs/control.md "The proof on the simulator". `--run-on-s` sets every machine's
unloaded run-on (the scenario's 600 s; the demo plant's own controllers run on for 3600 s) for both
modes: how much the sequencer saves depends on the wastes of the cascade it replaces.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config.loader import load_config  # noqa: E402
from agent.history.importer import import_csv  # noqa: E402
from agent.history.store import HistoryStore  # noqa: E402
from agent.web.history_source import HistorySource  # noqa: E402
from agent.web.settings import settings_for  # noqa: E402
from simulators.controlweek import ACTIVE, CASCADE, DayRun, Member, history_frame, run_days  # noqa: E402
from simulators.scenario import load_scenario  # noqa: E402

SITE = ROOT / "tests" / "data" / "control_week_site.yaml"
METER = "room_meter"


def summary(runs: list[DayRun]) -> dict[str, float]:
    return {
        "kwh": sum(r.kwh for r in runs),
        "process_m3": float(sum(r.process_m3.sum() for r in runs)),
        "leak_m3": float(sum(r.leak_m3.sum() for r in runs)),
        "min_bar": float(min(r.pressure_min_bar.min() for r in runs)),
        "mean_bar": float(np.mean([r.pressure_mean_bar.mean() for r in runs])),
    }


def starts(runs: list[DayRun]) -> dict[str, int]:
    most: dict[str, int] = {}
    for r in runs:
        for name, n in r.max_starts_per_hour().items():
            most[name] = max(most.get(name, 0), n)
    return most


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline-days", type=int, default=35)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--baseline-span-days",
        type=int,
        default=7,
        help="the baseline days run as continuous spans of this many days (1: each day on its own)",
    )
    parser.add_argument("--run-on-s", type=float, default=None, help="every machine's unloaded run-on")
    parser.add_argument(
        "--dt-s", type=float, default=None, help="the engine's step (the scenario's air.dt_s)"
    )
    parser.add_argument("--scenario", default="control_week", help="scenario name or path")
    parser.add_argument("--site", type=Path, default=SITE, help="the site config the agent loads")
    args = parser.parse_args()
    wall, cpu = time.time(), time.process_time()
    scenario = load_scenario(args.scenario)
    if scenario.air is None:
        parser.error(f"scenario {args.scenario}: no air system")
    air = scenario.air
    if args.run_on_s is not None:
        machines = tuple(c.model_copy(update={"run_on_s": args.run_on_s}) for c in air.compressors)
        air = air.model_copy(update={"compressors": machines})
    if args.dt_s is not None:
        if not 0 < args.dt_s <= 1 or abs(1 / args.dt_s - round(1 / args.dt_s)) > 1e-9:
            parser.error(f"--dt-s {args.dt_s}: must be 1 s or a whole fraction of it (0.5, 0.25, ...)")
        air = air.model_copy(update={"dt_s": args.dt_s})
    scenario = scenario.model_copy(update={"air": air})
    loaded = load_config(args.site)
    site = loaded.config
    first, span = args.baseline_days, max(1, args.baseline_span_days)
    members = [Member(d, CASCADE, min(span, first - d)) for d in range(0, first, span)]
    members += [Member(first, CASCADE, args.days), Member(first, ACTIVE, args.days)]
    runs = run_days(scenario, site, members)
    sim_wall, sim_cpu = time.time() - wall, time.process_time() - cpu
    baseline = runs[:first]
    cascade = runs[first : first + args.days]
    active = runs[first + args.days :]
    c, a = summary(cascade), summary(active)
    day0 = scenario.start.date()
    start, end = day0 + timedelta(days=first), day0 + timedelta(days=first + args.days - 1)
    mv = savings(scenario, site, args.site, baseline + active, day0, start, end)
    truth = c["kwh"] - a["kwh"]
    written = {device for r in active for device, _ in r.writes}
    writable = {d.name for d in site.devices if d.writes_enabled}
    limits = {m.device: m.max_starts_per_hour for m in site.control.rooms[0].machines}
    print(
        f"control week: {start} .. {end} ({args.days} days), baseline {day0} .. {start - timedelta(days=1)}"
    )
    print(f"{'':34}{'cascade':>14}{'active':>14}")
    print(f"{'compressor room energy, kWh':34}{c['kwh']:>14,.0f}{a['kwh']:>14,.0f}")
    print(f"{'saving (truth), %':34}{'':>14}{truth / c['kwh']:>14.1%}")
    print(f"{'process air delivered, m3':34}{c['process_m3']:>14,.0f}{a['process_m3']:>14,.0f}")
    print(f"{'leak air, m3':34}{c['leak_m3']:>14,.0f}{a['leak_m3']:>14,.0f}")
    print(f"{'mean header pressure, bar':34}{c['mean_bar']:>14.2f}{a['mean_bar']:>14.2f}")
    print(f"{'lowest header pressure, bar':34}{c['min_bar']:>14.2f}{a['min_bar']:>14.2f}")
    for label, mode_runs in (("cascade", cascade), ("active", active)):
        low = min(mode_runs, key=lambda r: r.pressure_min_bar.min())
        minute = int(np.argmin(low.pressure_min_bar))
        below = sum(int((r.pressure_min_bar < site.control.rooms[0].minimum_bar).sum()) for r in mode_runs)
        when = datetime.fromtimestamp(low.start + minute * 60, scenario.tz).strftime("%a %H:%M")
        print(f"{'  lowest ' + label + ' at':34}{when:>14}   minutes below the minimum: {below}")
    sc, sa = starts(cascade), starts(active)
    for name in sa:
        print(f"{'most starts in an hour, ' + name:34}{sc[name]:>14}{sa[name]:>14}   (limit {limits[name]})")
    alarms: dict[str, int] = {}
    for r in active:
        for code, n in r.alarms.items():
            alarms[code] = alarms.get(code, 0) + n
    print(f"agent: {sum(r.decisions for r in active)} decisions, alarms (cycles) {alarms}")
    print(f"agent: writes {sum(sum(r.writes.values()) for r in active)} accepted, "
          f"{sum(sum(r.refused.values()) for r in active)} refused, to {sorted(written)} "
          f"(writes_enabled: {sorted(writable)})")  # fmt: skip
    if mv is None:
        print("M&V: no result")
    else:
        band = next(u for u in mv["uncertainty"] if abs(u["confidence"] - 0.90) < 1e-9)
        low, high = mv["savings_kwh"] - band["absolute_kwh"], mv["savings_kwh"] + band["absolute_kwh"]
        base = mv["baseline"]
        print(f"M&V: {base['equation']}; n {base['stats']['n']}, R2 {base['stats']['r2']:.3f}, "
              f"CV(RMSE) {base['stats']['cv_rmse']:.1%}")  # fmt: skip
        verdict = mv["verdict"]
        verified = "passed" if verdict["passed"] else "NOT VERIFIED: " + "; ".join(verdict["failures"])
        print(f"M&V savings {mv['savings_kwh']:,.0f} kWh +/- {band['absolute_kwh']:,.0f} kWh at 90 % "
              f"({mv['fraction']:.1%} of the adjusted baseline {mv['baseline_kwh']:,.0f} kWh); "
              f"verdict {verified}")  # fmt: skip
        inside = "yes" if low <= truth <= high else "no"
        print(f"truth {truth:,.0f} kWh: inside the 90 % band [{low:,.0f}, {high:,.0f}]: {inside}")
    agent_cpu = sum(r.agent_s for r in active)
    total = time.time() - wall
    spans = ", ".join(f"{n} x {d} d" for d, n in sorted(Counter(m.days for m in members).items()))
    print(f"run time: simulation {sim_wall:.0f} s wall, {sim_cpu:.0f} s CPU ({len(runs)} room-days in "
          f"continuous spans of {spans}, at dt {air.dt_s:g} s; agent {agent_cpu:.0f} s CPU of it); "
          f"total {total:.0f} s wall; peak memory {peak_mb():.0f} MB")  # fmt: skip
    return 0


def peak_mb() -> float:
    """The process's peak resident memory (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def savings(scenario, site, site_path, runs, day0: date, start: date, end: date):  # type: ignore[no-untyped-def]
    """The agent's own M&V of the reporting days, through the import and the history store."""
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.csv"
        history_frame(runs, scenario.tz, METER).to_csv(export, index=False)
        store_path = Path(tmp) / "history.db"
        with HistoryStore(store_path) as store:
            import_csv(export, site, store)
        settings = settings_for(
            site, baseline=(day0, start - timedelta(days=1)), replay=True, config_path=site_path
        )
        result = HistorySource(store_path, settings).savings(start, end)
    return result if result.get("available") else None


if __name__ == "__main__":
    raise SystemExit(main())
