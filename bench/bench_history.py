"""How long the offline history generator takes: a year of 15-minute data for the demo factory.

Run: .venv/bin/python bench/bench_history.py [DAYS]   (target: 365 days in < 30 s)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from simulators.history import generate_history
from simulators.scenario import load_scenario


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 365
    scenario = load_scenario("demo_factory")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = generate_history(scenario, days, Path(out))
        elapsed = time.perf_counter() - started
        size_mb = result.history_csv.stat().st_size / 1e6
    print(
        f"demo_factory: {days} days, {result.rows} rows of 15-minute data "
        f"in {elapsed:.1f} s ({size_mb:.1f} MB gz)"
    )
    print(f"true savings {result.true_savings_kwh:,.0f} kWh")


if __name__ == "__main__":
    main()
