"""What the live recorder adds to the poll path: `LiveRecorder.feed` per poll result.

    .venv/bin/python bench/bench_recorder.py [--polls 20000]

A generic load/unload compressor polled with all 23 points feeds five series (loaded and running
hours, air, pressure mean and minimum); an SDM630 meter has no roles (its energy is the poller's).
Prints microseconds per poll for each, best of 3.
"""

from __future__ import annotations

import argparse
import time

from agent.config.registry import ProfileRegistry
from agent.config.site import SiteConfig
from agent.readings.model import PollResult, Readings
from agent.runtime.recorder import LiveRecorder

SITE = {
    "site": {"name": "bench"},
    "buses": [{"name": "b", "type": "tcp", "host": "127.0.0.1"}],
    "devices": [
        {"name": "ac1", "bus": "b", "unit_id": 1, "profile": "generic/compressor_load_unload"},
        {"name": "meter", "bus": "b", "unit_id": 2, "profile": "eastron/sdm630"},
    ],
}


def polls(device: str, profile_id: str, count: int) -> list[PollResult]:
    names = tuple(p.name for p in ProfileRegistry().get(profile_id).points)
    out = []
    for i in range(count):
        ts = 1_700_000_000.0 + 15 * i
        values = [
            float(i % 3) if n == "state" else 7.0 + (i % 10) * 0.05 if "pressure" in n else ts / 3600
            for n in names
        ]
        out.append(
            PollResult("bench", device, "x", profile_id, ts, i, Readings(names, values, ("",) * len(names)))
        )
    return out


def best_us_per_poll(results: list[PollResult], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        recorder = LiveRecorder(SiteConfig.model_validate(SITE), ProfileRegistry().get)
        started = time.perf_counter()
        for result in results:
            recorder.feed(result)
        best = min(best, time.perf_counter() - started)
    return best / len(results) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=20_000)
    args = parser.parse_args()
    compressor = best_us_per_poll(polls("ac1", "generic/compressor_load_unload", args.polls))
    meter = best_us_per_poll(polls("meter", "eastron/sdm630", args.polls))
    print(f"compressor, 23 points -> 5 series: {compressor:7.2f} us/poll")
    print(f"meter without roles:               {meter:7.2f} us/poll")


if __name__ == "__main__":
    main()
