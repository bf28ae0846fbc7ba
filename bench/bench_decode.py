"""Decode throughput: microseconds per point on the hot path (a block of float32 points).

Run: .venv/bin/python bench/bench_decode.py
Prints figures; not a pass/fail test.
"""

from __future__ import annotations

import time

from agent.config.profile import NumericPoint, Order, Profile
from agent.modbus.decode import decode_block, decode_point, encode_point
from agent.modbus.plan import plan_for_profile

POINTS = 30
ROUNDS = 10_000
REPEATS = 5


def meter(order: Order, valid_range: tuple[float, float] | None) -> Profile:
    points = tuple(
        NumericPoint.model_validate(
            {
                "name": f"p{i}",
                "function": "input",
                "address": 2 * i,
                "dtype": "float32",
                "scale": 0.001 if i % 3 == 0 else 1.0,
                "valid_range": valid_range,
            }
        )
        for i in range(POINTS)
    )
    return Profile(
        id="bench/meter", vendor="bench", model="meter", device_kind="power_meter", order=order, points=points
    )


def per_point_us(seconds: float, decoded_points: int) -> float:
    return seconds / decoded_points * 1e6


def bench_block(order: Order, valid_range: tuple[float, float] | None) -> float:
    profile = meter(order, valid_range)
    (block,) = plan_for_profile(profile)
    registers = [r for p in profile.points for r in encode_point(p, 230.5, order)]
    decode_block(block, registers, profile)  # compile once, as the runtime would
    best = float("inf")
    for _ in range(REPEATS):  # best of several: the machine may be busy with other work
        start = time.perf_counter()
        for _ in range(ROUNDS):
            decode_block(block, registers, profile)
        best = min(best, time.perf_counter() - start)
    return per_point_us(best, ROUNDS * POINTS)


def bench_single(order: Order) -> float:
    point = meter(order, None).points[1]
    registers = encode_point(point, 230.5, order)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            decode_point(point, registers, order)
        best = min(best, time.perf_counter() - start)
    return per_point_us(best, ROUNDS)


def main() -> None:
    print(f"{POINTS} float32 points per block, best of {REPEATS} runs of {ROUNDS} blocks")
    for order in (Order.ABCD, Order.CDAB):
        for valid_range in (None, (0.0, 1000.0)):
            us = bench_block(order, valid_range)
            label = "with valid_range" if valid_range else "no valid_range"
            print(f"decode_block  {order.value} {label:17} {us:6.3f} us/point  ({1e6 / us:,.0f} points/s)")
    for order in (Order.ABCD, Order.DCBA):
        print(f"decode_point  {order.value}                   {bench_single(order):6.3f} us/point")


if __name__ == "__main__":
    main()
