"""Seconds per simulated day of the compressor-room engine (simulators/airroom.py), B = 1 and a year batch.

    .venv/bin/python bench/bench_airroom.py [--scenario demo_factory] [--days 486] [--dt 5]

B = 1 is the live simulator's case (one room advanced to the clock); the year batch is the demo's
history (365 actual days + the days after the retrofit again as counterfactual, one batch). The
process's CPU time is printed beside the wall time: on a shared machine it varies far less.
"""

from __future__ import annotations

import argparse
import time

from simulators.physics import compute_days
from simulators.scenario import load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="demo_factory")
    parser.add_argument("--days", type=int, default=486, help="rooms in the batch (demo year: 365 + 121)")
    parser.add_argument("--dt", type=float, default=None, help="engine step, s (default: the scenario's)")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    assert scenario.air is not None
    if args.dt is not None:
        scenario = scenario.model_copy(update={"air": scenario.air.model_copy(update={"dt_s": args.dt})})
    dt = scenario.air.dt_s if scenario.air else 0
    for batch in (1, args.days):
        days = [(d % 365, True) for d in range(batch)]
        started, cpu = time.perf_counter(), time.process_time()
        compute_days(scenario, days, record_s=900)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"{args.scenario} dt={dt:g} s  B={batch:4d}: {elapsed:6.1f} s  = {elapsed / batch:7.3f} s per day"
            f"  (CPU {cpu:6.1f} s = {cpu / batch:7.3f} s per day)"
        )


if __name__ == "__main__":
    main()
