"""Savings on temperature-only simulated sites vs their truth: hourly TOWT and daily degree-day models.

    .venv/bin/python bench/mv_validation.py --seeds 12

For each seed s (saving 5, 10, 15, 20 % in turn): two years of hourly history from
`simulators.temperature_site`, the first year as baseline, the second as reporting period
(`simulators.validation.run_case`). Prints one row per seed and model, then per model the share of
seeds within 1 percentage point of the true saving and inside the 90 % band. ~5 s a seed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from simulators.validation import CaseResult, run_case

FRACTIONS = (0.05, 0.10, 0.15, 0.20)


def _row(r: CaseResult) -> str:
    nmbe = "-" if r.nmbe_out_of_sample is None else f"{r.nmbe_out_of_sample:+.2%}"
    return (
        f"| {r.seed} | {r.model} | {r.true_fraction:.2%} | {r.fraction:.2%} | {r.error_pp:+.2f} | "
        f"+/-{r.band90_fraction:.2%} | {'yes' if r.inside_band else 'NO'} | {r.cv_rmse:.1%} | {nmbe} | "
        f"{r.verdict} | {r.seconds:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument(
        "--segmentation", default="three_month_weighted", choices=["three_month_weighted", "single"]
    )
    parser.add_argument(
        "--daily-mean",
        action="store_true",
        help="also the daily model on daily-mean temperature (comparison)",
    )
    args = parser.parse_args()
    print("| seed | model | true saving | computed | error, pp | 90 % band | inside band | CV(RMSE) | "
          "NMBE out of sample | verdict | fit + savings, s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results: list[CaseResult] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        fraction = FRACTIONS[(seed - 1) % len(FRACTIONS)]
        with tempfile.TemporaryDirectory() as workdir:
            for result in run_case(
                seed, fraction, Path(workdir), segmentation=args.segmentation, daily_mean=args.daily_mean
            ):
                results.append(result)
                print(_row(result), flush=True)
    print()
    families = {
        "hourly": "hourly TOWT",
        "hourly degree days": "daily change-point, hourly degree days",
        "daily-mean temperature": "daily change-point, daily-mean temperature",
    }
    for family, label in families.items():
        rows = [r for r in results if r.model.startswith(family) or r.model.endswith(family)]
        if not rows:
            continue
        both = sum(r.within_1pp and r.inside_band for r in rows)
        worst = max(abs(r.error_pp) for r in rows)
        print(
            f"{label}: {both}/{len(rows)} seeds within 1 pp and inside the 90 % band "
            f"({both / len(rows):.0%}); largest error {worst:.2f} pp"
        )


if __name__ == "__main__":
    main()
