"""How noisy is the demo factory? Its daily baselines, fitted the way a site's are.

Generates the demo's history (demo_scenario(2025-06-30, 360), as tests/unit/test_mv_truth.py does),
imports it, writes the demo site config, then runs `energy-agent savings <config> --replay` (the
site's Option C baseline on the main meter) and fits the compressor room's Option B baseline with the
same analytics, and prints the fit statistics and the savings against the simulator's truth.

    .venv/bin/python bench/demo_baseline_fit.py [--workdir DIR] [--seed N] [--without FIELD ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from agent.analytics import daily_frame, fit, savings
from agent.analytics.windows import local_day_bounds
from agent.config.analytics import BaselineOptions
from agent.demo import demo_scenario, demo_site_config, prepare_history, served_endpoints, write_config
from agent.history.store import HistoryStore

TODAY = date(2025, 6, 30)
DAYS = 360
TZ = "Asia/Shanghai"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="FIELD",
        help="turn one of the scenario's variation fields off (0), e.g. --without mix_sd; repeatable",
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="demo-fit-"))
    scenario = demo_scenario(TODAY, DAYS)
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    if args.without:
        off = {name: () if name == "lines" else 0.0 for name in args.without}
        scenario = scenario.model_copy(update={"variation": scenario.variation.model_copy(update=off)})
    end = pd.Timestamp(TODAY + timedelta(days=1), tz=TZ).timestamp()
    history = prepare_history(scenario, work, DAYS, now=end)
    config = write_config(
        demo_site_config(scenario, served_endpoints(scenario, 1502), None, 15.0), work / "site.yaml"
    )
    command = [sys.executable, "-m", "agent.cli", "savings", str(config), "--replay"]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=False)
    truth = pd.read_csv(next((work / "history").glob("*/truth_daily.csv")), index_col="date")
    retrofit = scenario.retrofit.date
    machines = [d.name for d in scenario.devices if d.kind == "compressor"]

    def days(first: date, last: date) -> pd.DataFrame:
        start, stop = local_day_bounds(first, last, TZ)
        with HistoryStore(history) as store:
            energy = store.energy(machines, start, stop).sum(axis=1, min_count=len(machines))
            series = store.series(["production", "temperature_c"], start, stop)
        return daily_frame(energy, TZ, production=series["production"], temperature_c=series["temperature_c"])

    model = fit(days(scenario.start.date(), retrofit - timedelta(days=1)), BaselineOptions(ipmvp_option="B"))
    result = savings(model, days(retrofit, TODAY))
    reporting = truth.loc[str(retrofit) : str(TODAY)]
    true_kwh = float((reporting["counterfactual_compressor_kwh"] - reporting["actual_compressor_kwh"]).sum())
    s = model.stats
    print(
        f"\nOption B, ten compressors: {model.kind}, R2 {s.r2:.4f}, CV(RMSE) {100 * s.cv_rmse:.2f} %, "
        f"savings {result.savings_kwh:,.0f} kWh (true {true_kwh:,.0f}), "
        f"90 % band +/- {result.band(0.90).absolute_kwh:,.0f} kWh, F {100 * result.fraction:.2f} % "
        f"(true {100 * true_kwh / float(reporting['counterfactual_compressor_kwh'].sum()):.2f} %)"
    )
    site = truth.loc[str(retrofit) : str(TODAY)]
    print(f"site true savings {site['savings_kwh'].sum():,.0f} kWh over {len(site)} reporting days")
    print(f"workdir {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
