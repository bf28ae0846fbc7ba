"""Event-loop overhead of the polling runtime: CPU per schedule wait and per Modbus TCP request.

    .venv/bin/python bench/bench_loop.py                    # both loops, every case
    .venv/bin/python bench/bench_loop.py --loop asyncio --case pool --requests 3000

Cases (CPU time of this process, time.process_time, so other load on the machine matters less):
- wait: 200 pollers' `SystemClock.wait(0.5 ms, stop)` in a loop, against plain `asyncio.sleep`
  (the floor: one future and one timer);
- link: 60-register reads one after the other on one `ModbusLink`;
- pool: 100 readers sharing a `PoolArbiter` of 4 links (the plant's bus: 100 devices, 4 connections).
The Modbus cases read from the plant's C server (bench/c/plant_server.c), built with gcc.

For instruction counts (no PMU on the benchmark VMs), run one case under callgrind at two sizes and
take the difference, which cancels start-up:
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python bench/bench_loop.py \\
        --loop asyncio --case pool --requests 1000 --port PORT      # then --requests 3000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from agent.config.profile import Function  # noqa: E402
from agent.config.site import TcpBus  # noqa: E402
from agent.modbus.bus import arbiter_for  # noqa: E402
from agent.modbus.io import ModbusLink  # noqa: E402
from agent.runtime.schedule import SystemClock  # noqa: E402

SLEEPERS = 200


async def waits(rounds: int, sleep_only: bool) -> float:
    clock = SystemClock()

    async def poller(stop: asyncio.Event) -> None:
        for _ in range(rounds):
            if sleep_only:
                await asyncio.sleep(0.0005)
            else:
                await clock.wait(0.0005, stop)

    start = time.process_time()
    await asyncio.gather(*(poller(asyncio.Event()) for _ in range(SLEEPERS)))
    return (time.process_time() - start) / (SLEEPERS * rounds) * 1e6


async def link_reads(port: int, requests: int) -> float:
    bus = TcpBus(name="b", type="tcp", host="127.0.0.1", port=port)
    async with ModbusLink(bus) as link:
        start = time.process_time()
        for _ in range(requests):
            await link.read(1, Function.HOLDING, 0, 60)
        return (time.process_time() - start) / requests * 1e6


async def pool_reads(port: int, requests: int) -> float:
    bus = TcpBus(name="b", type="tcp", host="127.0.0.1", port=port, max_connections=4)
    pool = arbiter_for(bus)

    async def reader(unit: int) -> None:
        for _ in range(requests // 100):
            await pool.read(unit, Function.HOLDING, 0, 60)

    start = time.process_time()
    await asyncio.gather(*(reader(u) for u in range(1, 101)))
    cpu = time.process_time() - start
    await pool.close()
    return cpu / (requests // 100 * 100) * 1e6


def on_loop(loop: str, main: Coroutine[Any, Any, float]) -> float:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def measure(loop: str, case: str, port: int, requests: int) -> str:
    if case == "wait":
        wait = on_loop(loop, waits(requests // SLEEPERS, sleep_only=False))
        floor = on_loop(loop, waits(requests // SLEEPERS, sleep_only=True))
        return f"{loop:8} wait  {wait:6.2f} µs CPU per SystemClock.wait (asyncio.sleep: {floor:.2f})"
    run = link_reads if case == "link" else pool_reads
    return f"{loop:8} {case:5} {on_loop(loop, run(port, requests)):6.2f} µs CPU per request"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], nargs="+", default=["asyncio", "uvloop"])
    parser.add_argument(
        "--case", choices=["wait", "link", "pool"], nargs="+", default=["wait", "link", "pool"]
    )
    parser.add_argument("--requests", type=int, default=40_000, help="waits or requests per case")
    parser.add_argument("--port", type=int, help="a plant_server already listening (default: start one)")
    args = parser.parse_args()
    if args.port is not None:
        for loop in args.loop:
            for case in args.case:
                print(measure(loop, case, args.port, args.requests), flush=True)
        return
    import plant

    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        binaries = plant.build_c(Path(tmp))
        with plant.plant_server(binaries["server"]) as port:
            for loop in args.loop:
                for case in args.case:
                    print(measure(loop, case, port, args.requests), flush=True)


if __name__ == "__main__":
    main()
