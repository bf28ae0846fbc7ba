"""`energy-agent simulate SCENARIO`: serve a simulated factory over Modbus, or write its history.

energy-agent simulate demo_factory                      # serve until Ctrl-C; prints the endpoints
energy-agent simulate tiny --speed 1440 --port 5020     # one simulated day per real minute
energy-agent simulate demo_factory --history 365 --out data/
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="serve a simulated factory over Modbus, or write its history",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "scenario", help="scenario file, or the name of a shipped one (tiny, small_site, demo_factory)"
    )
    parser.add_argument("--history", type=int, metavar="DAYS", help="write DAYS of 15-minute history instead")
    parser.add_argument("--out", type=Path, default=Path("sim-history"), help="history output directory")
    parser.add_argument("--first-day", type=int, default=0, help="history: scenario day to start at")
    parser.add_argument("--host", default="127.0.0.1", help="address the TCP buses listen on")
    parser.add_argument(
        "--port", type=int, default=0, help="first TCP port (buses take consecutive ports); 0 = any"
    )
    parser.add_argument("--speed", type=float, default=None, help="simulated seconds per real second")
    parser.add_argument("--sim-start", help="accelerated clock: simulated start time (ISO, with offset)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from simulators.scenario import load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.history is not None:
        return _write_history(scenario, args)
    try:
        asyncio.run(_serve(scenario, args))
    except (OSError, RuntimeError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _write_history(scenario: Any, args: argparse.Namespace) -> int:
    from simulators.history import generate_history

    if args.history < 1:
        print("error: --history needs at least 1 day", file=sys.stderr)
        return 1
    result = generate_history(scenario, args.history, args.out, first_day=args.first_day)
    print(f"wrote {result.rows} intervals to {result.history_csv}")
    print(f"truth: {result.truth_json} and {result.truth_daily_csv}")
    print(f"true savings: {result.true_savings_kwh:,.1f} kWh")
    return 0


def _clock(scenario: Any, args: argparse.Namespace) -> Any:
    from simulators.clock import RealClock, SharedClock

    if args.speed is None:
        return RealClock()
    start = datetime.fromisoformat(args.sim_start) if args.sim_start else scenario.start
    return SharedClock.starting_now(start.timestamp(), args.speed)


async def _serve(scenario: Any, args: argparse.Namespace) -> None:
    from agent.runtime.schedule import SIM_CLOCK_ENV
    from simulators.server import SimulatedFactory

    ports = {bus.name: args.port + i for i, bus in enumerate(scenario.buses)} if args.port else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    clock = _clock(scenario, args)
    async with SimulatedFactory(scenario, clock=clock, host=args.host, ports=ports) as factory:
        print(f"simulating {scenario.name}: {len(factory.endpoints())} devices (Ctrl-C to stop)")
        if args.speed is not None:  # the agent follows the simulated time with this variable
            print(f"agent clock: export {SIM_CLOCK_ENV}='{clock.spec.format()}'")
        print(f"{'device':<20} {'transport':<13} {'address':<28} {'unit':>4}  profile")
        for e in factory.endpoints():
            print(f"{e.device:<20} {e.transport:<13} {e.address:<28} {e.unit_id:>4}  {e.profile}", flush=True)
        await stop.wait()
