"""Polling benchmark: N SDM630 meters at 1 s on Modbus TCP against the simulated factory.

The simulator runs in a child process (so the agent's CPU and RSS are its own); the agent polls for
`--seconds` and reports achieved polls/s, missed slots, schedule jitter (request time - slot) p50/p99,
CPU % and RSS from /proc/self.

    .venv/bin/python bench/bench_poll.py --devices 10 100 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config.loader import load_config  # noqa: E402
from agent.runtime.app import Agent  # noqa: E402
from agent.runtime.output import MemoryOutput  # noqa: E402

PER_BUS = 200  # unit ids 1..200 per simulated TCP server
POINTS = ["active_power_total_kw", "total_import_kwh"]


def _scenario(n: int) -> dict[str, object]:
    from simulators.scenario import load_scenario

    data = load_scenario("tiny").model_dump(mode="json")
    data["retrofit"] = None
    data["buses"] = [
        {
            "name": f"b{b}",
            "transport": "tcp",
            "devices": [
                {
                    "name": f"m{b}_{u}",
                    "unit_id": u,
                    "profile": "eastron/sdm630",
                    "kind": "meter",
                    "measures": ["line"],
                }
                for u in range(1, min(PER_BUS, n - b * PER_BUS) + 1)
            ],
        }
        for b in range((n + PER_BUS - 1) // PER_BUS)
    ]
    return data


async def _serve(n: int, base_port: int) -> None:
    from simulators.scenario import Scenario
    from simulators.server import SimulatedFactory

    scenario = Scenario.model_validate(_scenario(n))
    ports = {bus.name: base_port + i for i, bus in enumerate(scenario.buses)}
    async with SimulatedFactory(scenario, ports=ports):
        print("ready", flush=True)
        await asyncio.Event().wait()


def _cpu_s() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _bench(n: int, base_port: int, seconds: float, workdir: Path) -> dict[str, float]:
    buses = [
        {"name": f"b{b}", "type": "tcp", "host": "127.0.0.1", "port": base_port + b, "timeout_s": 0.5}
        | {"max_connections": 8}
        for b in range((n + PER_BUS - 1) // PER_BUS)
    ]
    devices = [
        {"name": f"m{i}", "bus": f"b{i // PER_BUS}", "unit_id": i % PER_BUS + 1, "profile": "eastron/sdm630"}
        | {"interval_s": 1.0, "points": POINTS}
        for i in range(n)
    ]
    site = workdir / f"site{n}.yaml"
    site.write_text(yaml.safe_dump({"site": {"name": "bench"}, "buses": buses, "devices": devices}))
    output = MemoryOutput()
    agent = Agent(load_config(site), output)
    task = asyncio.create_task(agent.run())
    await agent.started.wait()
    await asyncio.sleep(2.0)  # warm up: connections, first plan
    warm = len(output.results)
    missed0 = sum(h.missed_slots for h in agent.health().values())
    cpu0, wall0 = _cpu_s(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, wall1 = _cpu_s(), time.monotonic()
    window = output.results[warm:]
    missed = sum(h.missed_slots for h in agent.health().values()) - missed0
    agent.stop()
    await task
    jitter = sorted(((r.requested_at or r.ts) - r.ts) * 1000 for r in window)
    ok = sum(r.status == "ok" for r in window)
    return {
        "devices": n,
        "polls_per_s": len(window) / (wall1 - wall0),
        "ok_fraction": ok / len(window) if window else 0.0,
        "missed_slots": missed,
        "jitter_p50_ms": statistics.median(jitter) if jitter else float("nan"),
        "jitter_p99_ms": jitter[int(0.99 * (len(jitter) - 1))] if jitter else float("nan"),
        "cpu_pct": 100 * (cpu1 - cpu0) / (wall1 - wall0),
        "rss_mb": _rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--base-port", type=int, default=15020)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.base_port))
        return
    print("devices  polls/s  ok%    missed  jitter p50 ms  p99 ms  cpu %  rss MB")
    for n in args.devices:
        cmd = [sys.executable, __file__, "--serve", str(n), "--base-port", str(args.base_port)]
        server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            if server.stdout.readline().strip() != "ready":
                raise SystemExit("simulator did not start")
            with tempfile.TemporaryDirectory() as tmp:
                r = asyncio.run(_bench(n, args.base_port, args.seconds, Path(tmp)))
        finally:
            server.terminate()
            server.wait(10)
        head = f"{r['devices']:>7.0f}  {r['polls_per_s']:7.1f}  {100 * r['ok_fraction']:5.1f}"
        tail = (
            f"{r['jitter_p50_ms']:13.2f}  {r['jitter_p99_ms']:6.2f}  {r['cpu_pct']:5.1f}  {r['rss_mb']:6.1f}"
        )
        print(f"{head}  {r['missed_slots']:6.0f}  {tail}", flush=True)
        args.base_port += 10


if __name__ == "__main__":
    main()
