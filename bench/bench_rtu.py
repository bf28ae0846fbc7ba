"""RTU line benchmark: 10 SDM630 meters on one simulated 9600-baud line, polled faster than it allows.

Issue 10 asks for >= 90 % of the frame-time limit of polls per second on a simulated 9600-baud RTU
line of 10 meters. The simulator (simulators/, in a child process so the agent's CPU is its own)
serves one bus with `baudrate: 9600`, which holds every answer for `wire_seconds(9600, 8, response)`:
both frames and their 3.5-character silences. The agent (in-process `agent.runtime.app.Agent`, the
production poller and `LineArbiter`, output kept in memory) polls every meter at `--interval`, far
more often than the line can carry, for `--seconds`.

    frame-time limit = meters / sum over meters, over the runtime's plan blocks, of wire_seconds(...)

i.e. the line's polls/s if the wire were never idle (each meter's is that / meters). The achieved
polls/s is the simulator's request rate in the window / blocks per poll (every poll is that many
requests; check ok_fraction), cross-checked ("done") with the sum over meters of (completions - 1) /
(last - first completion), which is coarser: a meter completes only every few seconds. From the
simulator's request log (real monotonic start/end of every request) and the agent's own
send/receive times, the idle wire between frames is split into: the wait for a slot (no poller
queued), the agent's turnaround (answer received -> next request sent) and the transport (agent
send -> simulator has the request, simulator done -> agent has the answer), plus the simulator's
own time per request beyond the wire.

    .venv/bin/python bench/bench_rtu.py     # rtu_over_tcp and serial, 2 point sets, 3 intervals
    .venv/bin/python bench/bench_rtu.py --transport rtu_over_tcp --points all --interval 2.5
        --what-if none stagger late --json bench/results/rtu_what_if.json      # (one line)

Writes results/rtu.json. Transport `serial` needs socat (a pty pair stands for the RS-485 line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config.loader import load_config  # noqa: E402
from agent.config.profile import Function  # noqa: E402
from agent.config.site import RtuOverTcpBus, SerialBus  # noqa: E402
from agent.modbus.bus import Link, LinkFactory  # noqa: E402
from agent.modbus.io import ModbusLink, Registers  # noqa: E402
from agent.modbus.plan import PlanCost, ReadBlock, plan_for_profile  # noqa: E402
from agent.readings.model import PollResult  # noqa: E402
from agent.runtime.app import Agent  # noqa: E402
from agent.runtime.output import MemoryOutput  # noqa: E402
from agent.runtime.schedule import SlotSchedule  # noqa: E402

PROFILE = "eastron/sdm630"
POINT_SETS: dict[str, list[str] | None] = {
    "all": None,  # every point of the profile (51)
    # What an energy dashboard reads from a sub-meter (11 points; the runtime reads them in 2 blocks).
    "energy": [
        *(f"voltage_l{i}_n_v" for i in (1, 2, 3)),
        *(f"current_l{i}_a" for i in (1, 2, 3)),
        "active_power_total_kw",
        "power_factor_total",
        "frequency_hz",
        "total_import_kwh",
        "total_export_kwh",
    ],
}


def wire_seconds(baud: int, request_bytes: int, response_bytes: int) -> float:
    from simulators.server import wire_seconds as simulated

    return simulated(baud, request_bytes, response_bytes)


def _response_bytes(function: int, count: int) -> int:
    payload = -(-count // 8) if function in (1, 2) else 2 * count
    return 5 + payload


def _block_wire(baud: int, block: ReadBlock) -> float:
    return wire_seconds(baud, 8, _response_bytes(block.function.code, block.count))


# -- the simulator (child process) ---------------------------------------------------------------


def _scenario(meters: int, transport: str, baud: int) -> dict[str, Any]:
    from simulators.scenario import load_scenario

    data = load_scenario("tiny").model_dump(mode="json")
    data["retrofit"] = None
    devices = [
        {"name": f"m{u}", "unit_id": u, "profile": PROFILE, "kind": "meter", "measures": ["line"]}
        for u in range(1, meters + 1)
    ]
    data["buses"] = [{"name": "line", "transport": transport, "baudrate": baud, "devices": devices}]
    return data


async def _serve(meters: int, transport: str, baud: int) -> None:
    """Serve the line; on stdin `dump PATH` write the request log there; exit at EOF."""
    from simulators.scenario import Scenario
    from simulators.server import SimulatedFactory

    scenario = Scenario.model_validate(_scenario(meters, transport, baud))
    async with SimulatedFactory(scenario) as factory:
        server = factory.bus("line")
        print(f"ready {server.address}", flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command, _, path = line.strip().partition(" ")
            if command == "dump":
                log = [
                    [r.unit_id, r.function, r.address, r.count, r.start, r.end, r.outcome]
                    for r in server.request_log
                ]
                await asyncio.to_thread(Path(path).write_text, json.dumps(log))
                print("dumped", flush=True)


# -- the agent (this process) --------------------------------------------------------------------


@dataclass
class _Sent:
    unit: int
    count: int
    sent: float
    received: float = float("nan")


@dataclass
class _Recorder:
    """The agent's side of each request: when it was sent and when its answer came back."""

    sent: list[_Sent] = field(default_factory=list)

    def factory(self, bus: RtuOverTcpBus | SerialBus) -> LinkFactory:
        async def open_link() -> Link:
            link = ModbusLink(bus)
            await link.connect()
            return _TimedLink(link, self.sent)

        return open_link


class _TimedLink:
    def __init__(self, link: ModbusLink, log: list[_Sent]) -> None:
        self._link, self._log = link, log

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        entry = _Sent(unit, count, time.monotonic())
        try:
            return await self._link.read(unit, function, address, count)
        finally:
            entry.received = time.monotonic()
            self._log.append(entry)

    def close(self) -> None:
        self._link.close()


class _TimedOutput(MemoryOutput):
    """MemoryOutput that also notes when (monotonic) each poll result was handed on."""

    def __init__(self) -> None:
        super().__init__()
        self.done_at: list[float] = []

    async def put(self, result: PollResult) -> None:
        self.done_at.append(time.monotonic())
        await super().put(result)


class _LateSlot(SlotSchedule):
    """What-if: after an overrun, poll the slot in progress at once (late) instead of waiting for
    the next one; still one poll per slot, still on the wall-clock grid."""

    def next_after(self, slot: float, now: float, not_before: float | None = None) -> tuple[float, int]:
        nxt, missed = super().next_after(slot, now, not_before)
        if missed and not_before is None:
            return nxt - self.interval_s, missed - 1
        return nxt, missed


def _what_if(agent: Agent, what_if: str) -> None:
    """Bench-only experiments on the running pollers' schedules (agent/ is not changed)."""
    pollers = sorted(agent.pollers().values(), key=lambda p: p.device.unit_id)
    for i, poller in enumerate(pollers):
        schedule = poller.schedule
        if what_if == "stagger":  # meter i of n on the line polls at phase i/n of the interval
            schedule.phase_s = i * schedule.interval_s / len(pollers)
        elif what_if == "late":
            poller.schedule = _LateSlot(schedule.interval_s, schedule.phase_s)


def _site(
    args: argparse.Namespace, transport: str, address: str, interval: float, points: str
) -> dict[str, Any]:
    if transport == "serial":
        bus: dict[str, Any] = {"name": "line", "type": "rtu", "port": address, "baudrate": args.baud}
    else:
        host, port = address.rsplit(":", 1)
        bus = {
            "name": "line",
            "type": "rtu_over_tcp",
            "host": host,
            "port": int(port),
            "line_baudrate": args.baud,
        }
    bus |= {"timeout_s": args.timeout, "inter_frame_delay_ms": args.inter_frame_delay_ms}
    names = POINT_SETS[points]
    devices = [
        {"name": f"m{u}", "bus": "line", "unit_id": u, "profile": PROFILE, "interval_s": interval}
        | ({"points": names} if names else {})
        for u in range(1, args.meters + 1)
    ]
    return {"site": {"name": "bench-rtu"}, "buses": [bus], "devices": devices}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "mean": 1000 * statistics.fmean(values) if values else float("nan"),
        "p50": 1000 * _pct(values, 0.5),
        "p99": 1000 * _pct(values, 0.99),
    }


async def _measure(
    args: argparse.Namespace,
    transport: str,
    address: str,
    interval: float,
    points: str,
    what_if: str,
    workdir: Path,
) -> dict[str, Any]:
    site = workdir / "site.yaml"
    site.write_text(yaml.safe_dump(_site(args, transport, address, interval, points)))
    loaded = load_config(site)
    bus = loaded.config.buses[0]
    assert isinstance(bus, RtuOverTcpBus | SerialBus)
    recorder = _Recorder()
    output = _TimedOutput()
    agent = Agent(loaded, output, link_factories={"line": recorder.factory(bus)})
    task = asyncio.create_task(agent.run())
    await agent.started.wait()
    _what_if(agent, what_if)
    await asyncio.sleep(args.warmup)
    missed0 = sum(h.missed_slots for h in agent.health().values())
    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(args.seconds)
    cpu1, t1 = time.process_time(), time.monotonic()
    missed = sum(h.missed_slots for h in agent.health().values()) - missed0
    plans = {name: poller.plan for name, poller in agent.pollers().items()}
    agent.stop()
    await task

    profile = loaded.registry.get(PROFILE)
    wire_per_round = sum(_block_wire(args.baud, b) for plan in plans.values() for b in plan)
    rtu_plan = plan_for_profile(profile, POINT_SETS[points], cost=PlanCost.rtu(args.baud))
    rtu_wire_per_round = args.meters * sum(_block_wire(args.baud, b) for b in rtu_plan)
    limit = args.meters / wire_per_round  # the line's polls/s; each meter's is limit / meters

    # Per meter, completions from its first to its last in the window: whole polls over their span.
    done = [(at, r) for at, r in zip(output.done_at, output.results, strict=True) if t0 <= at <= t1]
    window = [r for _, r in done]
    polls_per_s = 0.0
    for name in plans:
        marks = [at for at, r in done if r.device == name]
        if len(marks) >= 2:
            polls_per_s += (len(marks) - 1) / (marks[-1] - marks[0])
    ok = sum(r.status == "ok" for r in window)
    lateness = [(r.requested_at or r.ts) - r.ts for r in window]

    return {
        "transport": transport,
        "interval_s": interval,
        "points": points,
        "what_if": what_if,
        "inter_frame_delay_ms": args.inter_frame_delay_ms,
        "meters": args.meters,
        "baud": args.baud,
        "seconds": t1 - t0,
        "blocks_per_poll": len(next(iter(plans.values()))),
        "registers_per_poll": sum(b.count for b in next(iter(plans.values()))),
        "wire_s_per_poll": wire_per_round / args.meters,
        "limit_polls_per_s": limit,
        "offered_polls_per_s": args.meters / interval,  # what the schedule asks of the line
        "saturated": args.meters / interval > limit,  # only then is the ratio a test of the agent
        "limit_polls_per_s_rtu_cost_plan": args.meters / rtu_wire_per_round,
        "rtu_cost_plan_blocks": len(rtu_plan),
        "polls_per_s_from_completions": polls_per_s,
        "polls_counted": len(window),
        "ok_fraction": ok / len(window) if window else 0.0,
        "missed_slots": missed,
        "lateness_ms": _ms(lateness),  # requested_at - slot
        "cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
        "cpu_ms_per_poll": 1000 * (cpu1 - cpu0) / max(len(done), 1),
        "cpu_us_per_request": 1e6 * (cpu1 - cpu0) / max(sum(t0 <= s.sent <= t1 for s in recorder.sent), 1),
        "_window": (t0, t1),
        "_sent": recorder.sent,
    }


def _analyse_log(result: dict[str, Any], log: list[list[Any]]) -> None:
    """Wire occupancy and the idle time between frames, from the simulator's and the agent's clocks."""
    t0, t1 = result.pop("_window")
    sent: list[_Sent] = result.pop("_sent")
    baud = result["baud"]
    reqs = sorted((r for r in log if t0 <= r[4] <= t1), key=lambda r: r[4])
    if len(reqs) < 2:
        result["polls_per_s"] = result["ratio"] = float("nan")
        return
    span = reqs[-1][5] - reqs[0][4]
    wire = [wire_seconds(baud, 8, _response_bytes(r[1], r[3])) for r in reqs]
    served = [r[5] - r[4] for r in reqs]
    gaps = [b[4] - a[5] for a, b in pairwise(reqs)]
    result["requests"] = len(reqs)
    result["polls_per_s"] = (len(reqs) - 1) / result["blocks_per_poll"] / (reqs[-1][4] - reqs[0][4])
    result["ratio"] = result["polls_per_s"] / result["limit_polls_per_s"]
    result["wire_busy_fraction"] = sum(wire[:-1]) / (reqs[-1][4] - reqs[0][4])
    result["sim_overhead_ms"] = _ms([s - w for s, w in zip(served, wire, strict=True)])
    result["gap_ms"] = _ms(gaps)
    # Match the agent's requests to the simulator's, in order (one line: strictly sequential).
    mine = sorted((s for s in sent if t0 - 1 <= s.sent <= t1 + 1), key=lambda s: s.sent)
    start = next((i for i, s in enumerate(mine) if s.sent <= reqs[0][4] < s.received), None)
    if start is None:
        return
    pairs = list(zip(mine[start:], reqs, strict=False))
    if any(s.unit != r[0] or s.count != r[3] for s, r in pairs):
        result["match"] = "agent and simulator request sequences differ"
        return
    to_sim = [r[4] - s.sent for s, r in pairs]
    to_agent = [s.received - r[5] for s, r in pairs]
    turn = [b.sent - a.received for (a, _), (b, _) in pairwise(pairs)]
    quick = result["inter_frame_delay_ms"] / 1000 + 0.010  # longer: no poller was queued
    slot_wait = [t for t in turn if t > quick]
    result["transport_to_sim_ms"] = _ms(to_sim)
    result["transport_to_agent_ms"] = _ms(to_agent)
    result["agent_turnaround_ms"] = _ms([t for t in turn if t <= quick])
    result["idle_waiting_for_slot_s_per_s"] = sum(slot_wait) / span
    result["idle_turnaround_s_per_s"] = sum(t for t in turn if t <= quick) / span
    result["idle_transport_s_per_s"] = (sum(to_sim) + sum(to_agent)) / span
    result["sim_overhead_s_per_s"] = sum(s - w for s, w in zip(served, wire, strict=True)) / span


def _run(
    args: argparse.Namespace, transport: str, interval: float, points: str, what_if: str
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        transport,
        "--meters",
        str(args.meters),
        "--baud",
        str(args.baud),
    ]
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise SystemExit(f"{transport}: simulator did not start")
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(_measure(args, transport, ready[1], interval, points, what_if, Path(tmp)))
            dump = Path(tmp) / "log.json"
            server.stdin.write(f"dump {dump}\n")
            server.stdin.flush()
            if server.stdout.readline().strip() != "dumped":
                raise SystemExit(f"{transport}: simulator did not dump its request log")
            _analyse_log(result, json.loads(dump.read_text()))
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.terminate()
            server.wait(10)
    return result


def _print(r: dict[str, Any]) -> None:
    plan = f"{r['blocks_per_poll']:>2}/{r['registers_per_poll']:<3}"
    head = f"{r['transport']:<12} {r['points']:<6} {r['interval_s']:5.2f} {r['inter_frame_delay_ms']:3.0f}"
    head += f" {r['what_if']:<7} {plan}"
    rates = f"{r['polls_per_s']:6.3f} {r['polls_per_s_from_completions']:6.3f}"
    ratio = f"{100 * r['ratio']:5.1f}" + (" " if r["saturated"] else "u")
    rates += f"  {r['offered_polls_per_s']:6.2f}  {r['limit_polls_per_s']:6.3f}  {ratio}"
    line = f"{head}  {rates}  {100 * r.get('wire_busy_fraction', float('nan')):5.1f}  {r['missed_slots']:5d}"
    gap = r.get("gap_ms", {})
    line += f"  {gap.get('p50', float('nan')):6.2f} {gap.get('mean', float('nan')):6.2f}"
    line += f"  {r.get('sim_overhead_ms', {}).get('p50', float('nan')):5.2f}"
    line += f"  {r['lateness_ms']['p50']:6.0f} {r['lateness_ms']['p99']:6.0f}"
    line += f"  {r['cpu_pct']:5.1f}  {r['cpu_ms_per_poll']:6.2f}  {r['cpu_us_per_request']:6.0f}"
    print(line, flush=True)


def _explain(r: dict[str, Any]) -> None:
    if "idle_waiting_for_slot_s_per_s" not in r:
        return
    print(
        f"    idle per second of line: slot wait {r['idle_waiting_for_slot_s_per_s']:.3f} s, "
        f"agent turnaround {r['idle_turnaround_s_per_s']:.3f} s "
        f"(p50 {r['agent_turnaround_ms']['p50']:.2f} ms), transport {r['idle_transport_s_per_s']:.3f} s "
        f"(to sim p50 {r['transport_to_sim_ms']['p50']:.2f} ms, to agent p50 "
        f"{r['transport_to_agent_ms']['p50']:.2f} ms), "
        f"simulator beyond wire {r['sim_overhead_s_per_s']:.3f} s; "
        f"limit with the RTU-cost plan ({r['rtu_cost_plan_blocks']} blocks) "
        f"{r['limit_polls_per_s_rtu_cost_plan']:.3f} polls/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--transport", nargs="+", default=["rtu_over_tcp", "serial"], choices=["rtu_over_tcp", "serial"]
    )
    parser.add_argument(
        "--interval", type=float, nargs="+", default=[0.35, 1.0, 2.5], help="poll interval(s), s"
    )
    parser.add_argument("--points", nargs="+", default=["all", "energy"], choices=sorted(POINT_SETS))
    parser.add_argument("--meters", type=int, default=10)
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--timeout", type=float, default=0.3, help="bus timeout_s (must be < interval)")
    parser.add_argument(
        "--inter-frame-delay-ms", type=float, nargs="+", default=[0.0], help="the bus's inter_frame_delay_ms"
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--what-if",
        nargs="+",
        default=["none"],
        choices=["none", "stagger", "late"],
        help="bench-only schedule experiment: stagger = meter i polls at phase i/n of the interval; "
        "late = after an overrun poll the slot in progress at once instead of the next slot",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "rtu.json")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.meters, args.serve, args.baud))
        return
    print(
        f"{args.meters} x {PROFILE} on one {args.baud}-baud line, {args.seconds:.0f} s per run; "
        "limit = meters / wire time of one poll of every meter (the runtime's plans); "
        "ratio% ends in u when the schedule offers less than the limit (line not saturated)"
    )
    print(
        "transport    points   ivl ifd what-if blk/reg  polls/s (done)  offered  limit  ratio%  busy%  missed"
        "  gap ms p50 mean  sim+ms  late ms p50 p99  cpu%  ms/poll  µs/req"
    )
    results = []
    for transport in args.transport:
        for points in args.points:
            for interval in args.interval:
                for delay_ms in args.inter_frame_delay_ms:
                    for what_if in args.what_if:
                        one = argparse.Namespace(**{**vars(args), "inter_frame_delay_ms": delay_ms})
                        r = _run(one, transport, interval, points, what_if)
                        _print(r)
                        _explain(r)
                        results.append(r)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"command": sys.argv[1:], "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
