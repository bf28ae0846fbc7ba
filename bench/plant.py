"""The plant benchmark: the agent's production path measured against the figures peer gateways reach.

    .venv/bin/python bench/plant.py                       # N = 50 / 200 / 1000, ceiling, extras
    .venv/bin/python bench/plant.py --devices 200 --seconds 20 --no-extras
    .venv/bin/python bench/plant.py --profile 200         # cProfile of the agent at N = 200

The plant: N devices, each 30 float32 points in 60 consecutive holding registers, polled every
second. Served by a small C Modbus TCP server (bench/c/plant_server.c, any unit id, one thread), so
the server costs almost nothing. Mosquitto and VictoriaMetrics run as their own processes; the agent
runs as `python -m agent.cli.run site.yaml` -- the production composition: durable SQLite outbox,
MQTT sink (QoS 1) and InfluxDB sink (v2 API into VictoriaMetrics) all on. Only the agent's process
is measured, from /proc/<pid>.

Per N: CPU per delivered point (agent CPU seconds in the window / points of the window's poll slots
that arrived at an MQTT subscriber), RSS, delivered % (window slots that reached MQTT and
VictoriaMetrics), schedule jitter (requested_at - slot) p50/p99, delivered points/s.

Extras (skip with --no-extras): the ceiling (N raised until a slot is lost; reported as the best
points/s with every slot delivered, and the best with jitter p99 <= 100 ms too), replay from the
outbox into VictoriaMetrics (bench/bench_outbox.py), and the Modbus request rate on one connection
against the C libmodbus loop (bench/c/modbus_loop.c) on the same server, interleaved rounds, medians
(`--modbus` runs only that). The table
is printed and written as JSON (--json, default bench/results/plant.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402

from tests.integration.services import Mosquitto, VictoriaMetrics, free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
POINTS = 30
PER_BUS = 100  # devices per configured TCP bus (a gateway's worth), all served by one C server
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The tree whose `agent` package runs (--agent-tree): another commit's checkout measures what a change
# bought with this same harness, on the same machine at the same time.
AGENT_TREE = ROOT


# --- processes ---------------------------------------------------------------------------------------


def build_c(out: Path) -> dict[str, Path]:
    """Compile the C server and the libmodbus reference loop (gcc, Debian's libmodbus-dev)."""
    out.mkdir(parents=True, exist_ok=True)
    server, loop = out / "plant_server", out / "modbus_loop"
    subprocess.run(["gcc", "-O2", "-o", str(server), str(HERE / "c" / "plant_server.c")], check=True)
    cmd = ["gcc", "-O2", "-I/usr/include/modbus", "-o", str(loop), str(HERE / "c" / "modbus_loop.c")]
    subprocess.run([*cmd, "-lmodbus"], check=True)
    return {"server": server, "loop": loop}


@contextmanager
def plant_server(binary: Path) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([str(binary), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("plant_server did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def proc_cpu_s(pid: int) -> float:
    user, system = proc_cpu_split(pid)
    return user + system


def proc_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_mem_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(rest.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


# --- the telemetry subscriber ------------------------------------------------------------------------


class Subscriber:
    """Counts telemetry messages per (device, slot) and keeps each poll's jitter (paho, own thread)."""

    def __init__(self, port: int, site: str) -> None:
        self.slots: dict[tuple[str, float], float] = {}
        self._lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-{site}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"bench/{site}/+/telemetry", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        doc = json.loads(message.payload)
        jitter_ms = (doc["requested_at"] - doc["ts"]) * 1000.0
        with self._lock:
            self.slots[(doc["device"], doc["ts"])] = jitter_ms

    def in_window(self, first: float, last: float) -> dict[tuple[str, float], float]:
        with self._lock:
            return {k: v for k, v in self.slots.items() if first <= k[1] <= last}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def vm_samples(vm: VictoriaMetrics, site: str, first: float, last: float) -> int:
    """Samples of one field (value_00) of the window's slots stored in VictoriaMetrics."""
    with urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=30):
        pass
    query = urllib.parse.urlencode(
        {"match[]": f'other_value_00{{site="{site}"}}', "start": str(int(first)), "end": str(int(last) + 1)}
    )
    count = 0
    with urllib.request.urlopen(f"{vm.url}/api/v1/export?{query}", timeout=60) as resp:
        for line in resp.read().decode().splitlines():
            if line:
                count += sum(1 for t in json.loads(line)["timestamps"] if first * 1000 <= t <= last * 1000)
    return count


# --- one plant run -----------------------------------------------------------------------------------


@dataclass
class PlantRun:
    devices: int
    seconds: int
    expected_polls: int
    mqtt_polls: int
    tsdb_polls: int
    cpu_s: float
    us_per_point: float
    sys_pct: float
    rss_mb: float
    rss_peak_mb: float
    delivered_pct: float
    jitter_p50_ms: float
    jitter_p99_ms: float
    points_per_s: float
    extra: dict[str, Any] = field(default_factory=dict)


def site_config(
    n: int, site: str, modbus_port: int, mqtt: Mosquitto, vm: VictoriaMetrics, store: Path
) -> dict[str, Any]:
    buses = [
        {"name": f"gw{b}", "type": "tcp", "host": "127.0.0.1", "port": modbus_port, "timeout_s": 0.5}
        | {"max_connections": 4}
        for b in range(math.ceil(n / PER_BUS))
    ]
    devices = [
        {"name": f"d{i:04d}", "bus": f"gw{i // PER_BUS}", "unit_id": i % PER_BUS + 1}
        | {"profile": "bench/plant30", "interval_s": 1.0}
        for i in range(n)
    ]
    sinks = {
        "mqtt": {
            "host": "127.0.0.1",
            "port": mqtt.port,
            "prefix": "bench",
            "qos": 1,
            "client_id": f"agent-{site}",
        },
        "influxdb": {"url": vm.url, "token": "bench", "org": "bench", "bucket": "bench"},
        "local_store": {"path": str(store)},
    }
    return {
        "site": {"name": site},
        "profiles_dirs": [str(HERE / "profiles")],
        "buses": buses,
        "devices": devices,
        "sinks": sinks,
    }


def run_plant(
    n: int,
    *,
    seconds: int,
    warmup: float,
    modbus_port: int,
    mqtt: Mosquitto,
    vm: VictoriaMetrics,
    workdir: Path,
    profile_to: Path | None = None,
    spy_to: Path | None = None,
) -> PlantRun:
    site = f"plant{n}x{int(time.time()) % 100000}"
    config = workdir / f"{site}.yaml"
    config.write_text(yaml.safe_dump(site_config(n, site, modbus_port, mqtt, vm, workdir / site)))
    subscriber = Subscriber(mqtt.port, site)
    python = [sys.executable] + (["-m", "cProfile", "-o", str(profile_to)] if profile_to else [])
    agent = subprocess.Popen(
        [*python, "-m", "agent.cli.run", str(config)],
        cwd=AGENT_TREE,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{site}.log", "wb"),  # noqa: SIM115 -- lives as long as the agent
    )
    try:
        time.sleep(warmup)
        if agent.poll() is not None:
            raise SystemExit(f"agent exited: {(workdir / f'{site}.log').read_text()[-3000:]}")
        first = math.ceil(time.time())
        time.sleep(first - time.time())
        spy = (
            subprocess.Popen(
                [
                    py_spy(),
                    "record",
                    "-p",
                    str(agent.pid),
                    "-d",
                    str(seconds),
                    "-r",
                    "1000",
                    "--threads",
                    "--gil",
                    "-f",
                    "raw",
                    "-o",
                    str(spy_to),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if spy_to
            else None
        )
        (user0, sys0), t0 = proc_cpu_split(agent.pid), time.monotonic()
        time.sleep(seconds)
        (user1, sys1), t1 = proc_cpu_split(agent.pid), time.monotonic()
        if spy is not None:
            spy.wait(60)
        rss, _ = proc_mem_mb(agent.pid)
        last = first + seconds - 1
        expected = n * seconds
        deadline = time.monotonic() + 15
        while len(subscriber.in_window(first, last)) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        _, peak = proc_mem_mb(agent.pid)
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        subscriber.close()
    keep = os.environ.get("PLANT_KEEP_LOGS")
    if keep:  # the agent's own log of each run, for a run that lost slots
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(workdir / f"{site}.log", Path(keep) / f"{site}.log")
    got = subscriber.in_window(first, last)
    tsdb = vm_samples(vm, site, first, last)
    jitter = sorted(got.values())
    cpu = (user1 - user0) + (sys1 - sys0)
    points = len(got) * POINTS
    return PlantRun(
        devices=n,
        seconds=seconds,
        expected_polls=expected,
        mqtt_polls=len(got),
        tsdb_polls=tsdb,
        cpu_s=round(cpu, 3),
        us_per_point=round(cpu / points * 1e6, 2) if points else math.nan,
        sys_pct=round(100.0 * (sys1 - sys0) / cpu, 1) if cpu else math.nan,
        rss_mb=round(rss, 1),
        rss_peak_mb=round(peak, 1),
        delivered_pct=round(100.0 * min(len(got), tsdb) / expected, 2),
        jitter_p50_ms=round(statistics.median(jitter), 2) if jitter else math.nan,
        jitter_p99_ms=round(jitter[int(0.99 * (len(jitter) - 1))], 2) if jitter else math.nan,
        points_per_s=round(points / (t1 - t0), 0),
    )


# --- extras ------------------------------------------------------------------------------------------


def modbus_rates(
    binaries: dict[str, Path], port: int, seconds: float = 2.0, rounds: int = 5
) -> dict[str, Any]:
    """Requests/s of 60-register reads on one connection: libmodbus C loop vs the agent's ModbusLink.

    The C loop and the agent (on the loop `energy-agent run` picks, uvloop when installed, and on
    plain asyncio) take turns, `rounds` times; medians are reported, so a burst of other work on the
    machine hits both sides alike instead of deciding the ratio.
    """
    code = (
        "import asyncio,sys,time\n"
        "try:\n"  # an --agent-tree from before the runtime owned the loop choice
        "    from agent.runtime.loop import event_loop_factory\n"
        "except ImportError:\n"
        "    from agent.cli.run import event_loop_factory\n"
        "from agent.config.site import TcpBus\n"
        "from agent.config.profile import Function\n"
        "from agent.modbus.io import ModbusLink\n"
        "async def main(port, seconds):\n"
        "    bus = TcpBus(name='b', type='tcp', host='127.0.0.1', port=port)\n"
        "    async with ModbusLink(bus) as link:\n"
        "        n, cpu0, end = 0, time.process_time(), time.monotonic() + seconds\n"
        "        while time.monotonic() < end:\n"
        "            await link.read(1, Function.HOLDING, 0, 60); n += 1\n"
        "    print(n / seconds, 1e6 * (time.process_time() - cpu0) / n)\n"
        "name, factory = event_loop_factory()\n"
        "with asyncio.Runner(loop_factory=factory) as runner:\n"
        "    runner.run(main(int(sys.argv[1]), float(sys.argv[2])))\n"
    )

    def c_loop() -> tuple[float, float]:
        out = subprocess.run(
            [str(binaries["loop"]), "127.0.0.1", str(port), str(seconds), "60"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        fields = dict(item.split("=") for item in out.split())
        return float(fields["req_per_s"]), float(fields["cpu_us_per_req"])

    def agent(loop: str) -> tuple[float, float]:
        out = subprocess.run(
            [sys.executable, "-c", code, str(port), str(seconds)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "ENERGY_AGENT_LOOP": loop},
        ).stdout
        rate, cpu_us = out.split()
        return float(rate), float(cpu_us)

    runs: dict[str, list[float]] = {"c": [], "auto": [], "asyncio": []}
    cpu: dict[str, list[float]] = {"c": [], "auto": [], "asyncio": []}
    for _ in range(rounds):
        for key, measure in (
            ("c", c_loop),
            ("auto", lambda: agent("auto")),
            ("asyncio", lambda: agent("asyncio")),
        ):
            rate, cpu_us = measure()
            runs[key].append(rate)
            cpu[key].append(cpu_us)
    c_rate, py_rate, plain = (statistics.median(runs[k]) for k in ("c", "auto", "asyncio"))
    c_cpu, py_cpu, plain_cpu = (statistics.median(cpu[k]) for k in ("c", "auto", "asyncio"))
    return {
        "c_req_per_s": round(c_rate),
        "agent_req_per_s": round(py_rate),
        "agent_pct_of_c": round(100 * py_rate / c_rate, 1),
        "agent_asyncio_req_per_s": round(plain),
        "agent_asyncio_pct_of_c": round(100 * plain / c_rate, 1),
        # CPU per request of each client process (user + system): independent of how fast the
        # loopback round trip is on the machine, which decides req/s when both clients mostly wait.
        "c_cpu_us_per_req": round(c_cpu, 2),
        "agent_cpu_us_per_req": round(py_cpu, 2),
        "agent_asyncio_cpu_us_per_req": round(plain_cpu, 2),
        "rounds": {k: [round(v) for v in vs] for k, vs in runs.items()},
        "cpu_rounds": {k: [round(v, 2) for v in vs] for k, vs in cpu.items()},
    }


def replay_rate() -> dict[str, Any]:
    """bench/bench_outbox.py: a 20,000-poll backlog replayed into VictoriaMetrics after an outage."""
    out = subprocess.run(
        [sys.executable, str(HERE / "bench_outbox.py"), "--polls", "20000", "--points", "30"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("replay:"))
    return {
        "replay_points_per_s": int(line.rsplit("polls/s, ", 1)[1].split()[0].replace(",", "")),
        "output": out.strip(),
    }


# --- driver ------------------------------------------------------------------------------------------

COLUMNS = (
    ("N", 5, "devices", ".0f"),
    ("µs CPU/pt", 9, "us_per_point", ".2f"),
    ("sys %", 6, "sys_pct", ".0f"),
    ("RSS MB", 7, "rss_mb", ".1f"),
    ("peak", 6, "rss_peak_mb", ".1f"),
    ("deliv %", 8, "delivered_pct", ".2f"),
    ("mqtt", 7, "mqtt_polls", ".0f"),
    ("tsdb", 7, "tsdb_polls", ".0f"),
    ("jit p50", 8, "jitter_p50_ms", ".2f"),
    ("p99 ms", 7, "jitter_p99_ms", ".2f"),
    ("points/s", 9, "points_per_s", ".0f"),
)
HEADER = " ".join(f"{title:>{width}}" for title, width, _, _ in COLUMNS)


def py_spy() -> str:
    """py-spy next to this interpreter (pip install py-spy), else on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else "py-spy"


# Where a py-spy sample's time goes: the deepest frame on its stack that names one of these.
SPY_STAGES = (
    (
        "modbus i/o",
        ("DevicePoller._read_block", "ModbusLink.", "_TcpClient.", "_TcpProtocol.", "PoolArbiter."),
    ),
    ("decode", ("decode_block",)),
    ("readings", ("DevicePoller._reading", "DevicePoller._read_all.<locals>")),
    ("judge + derive", ("DevicePoller._judge", "derive_readings")),
    ("schedule/wait", ("SystemClock.wait", "SlotSchedule.")),
    ("poll bookkeeping", ("DevicePoller.poll", "DevicePoller._result", "DevicePoller._succeeded")),
    ("accept (Delivery.put)", ("Delivery.put",)),
    ("outbox put", ("Outbox.put_many",)),
    ("codec encode", ("encode_result",)),
    ("outbox read", ("Outbox.read_after",)),
    ("codec decode", ("decode_result",)),
    ("outbox ack", ("Outbox.ack",)),
    ("mqtt telemetry json", ("telemetry_payload",)),
    ("mqtt publish (paho)", ("MqttPublisher._run_window", "MqttPublisher.deliver", "_Window.pump")),
    ("mqtt socket read (paho)", ("Client.loop_read", "_Link._readable")),
    ("mqtt socket write (paho)", ("Client.loop_write", "Client.loop_misc", "_Link._writable")),
    ("line protocol", ("line_protocol", "lines_for")),
    ("influx http", ("InfluxPublisher.", "InfluxWriter.")),
    ("forwarder", ("Forwarder.",)),
)


def spy_stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, markers in SPY_STAGES:
            if any(frame.startswith(m) for m in markers):
                return stage
    return "asyncio / other"


def print_spy(raw: Path, top: int = 30) -> None:
    """Stages, then top self and inclusive entries, of a py-spy raw (collapsed) file (GIL holder only)."""
    self_n: dict[str, int] = {}
    incl_n: dict[str, int] = {}
    threads: dict[str, int] = {}
    stages: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        count = int(count_s)
        frames = stack.split(";")
        total += count
        threads[frames[0]] = threads.get(frames[0], 0) + count
        stage = spy_stage(frames[1:])
        stages[stage] = stages.get(stage, 0) + count
        for frame in set(frames[1:]):
            incl_n[frame] = incl_n.get(frame, 0) + count
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + count
    print(f"\npy-spy: {total} samples holding the GIL, all threads")
    for title, table, limit in (
        ("thread", threads, top),
        ("stage", stages, top),
        ("self", self_n, top),
        ("inclusive", incl_n, top),
    ):
        print(f"\nby {title}")
        for name, count in sorted(table.items(), key=lambda kv: -kv[1])[:limit]:
            print(f"  {100 * count / total:5.1f} %  {name}")


def row(r: PlantRun) -> str:
    return " ".join(f"{getattr(r, key):>{width}{fmt}}" for _, width, key, fmt in COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--seconds", type=int, default=20, help="measured window per N")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--ceiling", type=int, nargs="*", default=[1500, 2000, 3000, 3500, 4000])
    parser.add_argument("--no-extras", action="store_true", help="only the N table")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile the agent at N devices instead")
    parser.add_argument("--modbus", action="store_true", help="only the Modbus one-connection rates")
    parser.add_argument(
        "--spy", type=int, metavar="N", help="py-spy (all threads, idle excluded) at N devices instead"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per N; the table keeps the median run (µs/pt) of each N"
    )
    parser.add_argument(
        "--agent-tree",
        type=Path,
        default=ROOT,
        help="run the agent package of this checkout (e.g. a git worktree of an older commit)",
    )
    parser.add_argument("--json", type=Path, default=HERE / "results" / "plant.json")
    args = parser.parse_args()
    global AGENT_TREE
    AGENT_TREE = args.agent_tree.resolve()
    if not (AGENT_TREE / "agent" / "cli" / "run.py").exists():
        parser.error(f"--agent-tree {args.agent_tree}: no agent/cli/run.py there")
    with tempfile.TemporaryDirectory(prefix="plant-") as tmp_name:
        tmp = Path(tmp_name)
        binaries = build_c(tmp / "bin")
        mqtt = Mosquitto(tmp / "mosquitto").start()
        vm = VictoriaMetrics(tmp / "vm").start()
        try:
            with plant_server(binaries["server"]) as port:
                if args.modbus:
                    print(json.dumps(modbus_rates(binaries, port), indent=2))
                    return
                if args.spy:
                    spy_to = tmp / "agent.spy"
                    r = run_plant(
                        args.spy,
                        seconds=args.seconds,
                        warmup=args.warmup,
                        modbus_port=port,
                        mqtt=mqtt,
                        vm=vm,
                        workdir=tmp,
                        spy_to=spy_to,
                    )
                    print(HEADER)
                    print(row(r))
                    print_spy(spy_to)
                    return
                if args.profile:
                    profile_to = tmp / "agent.prof"
                    r = run_plant(
                        args.profile,
                        seconds=args.seconds,
                        warmup=args.warmup,
                        modbus_port=port,
                        mqtt=mqtt,
                        vm=vm,
                        workdir=tmp,
                        profile_to=profile_to,
                    )
                    print(HEADER)
                    print(row(r))
                    import pstats

                    pstats.Stats(str(profile_to)).sort_stats("tottime").print_stats(30)
                    pstats.Stats(str(profile_to)).sort_stats("cumulative").print_stats(40)
                    return
                report = run_all(args, port, mqtt, vm, tmp, binaries)
        finally:
            mqtt.kill(signal.SIGTERM)
            vm.kill(signal.SIGTERM)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.json}")


def run_all(
    args: argparse.Namespace,
    port: int,
    mqtt: Mosquitto,
    vm: VictoriaMetrics,
    tmp: Path,
    binaries: dict[str, Path],
) -> dict[str, Any]:
    kw = {
        "seconds": args.seconds,
        "warmup": args.warmup,
        "modbus_port": port,
        "mqtt": mqtt,
        "vm": vm,
        "workdir": tmp,
    }
    print(HEADER, flush=True)
    runs = []
    every: list[PlantRun] = []
    for n in args.devices:
        tries = []
        for _ in range(args.repeat):
            tries.append(run_plant(n, **kw))
            print(row(tries[-1]) + ("   (repeat)" if args.repeat > 1 else ""), flush=True)
        every += tries
        runs.append(sorted(tries, key=lambda r: r.us_per_point)[len(tries) // 2])
        if args.repeat > 1:
            print(row(runs[-1]) + "   (median)", flush=True)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_avg": os.getloadavg()},
        "agent_tree": str(AGENT_TREE),
        "plant": [asdict(r) for r in runs],
        "plant_runs": [asdict(r) for r in every],
    }
    if args.no_extras:
        return report
    ceiling: list[PlantRun] = []
    for n in args.ceiling:
        ceiling.append(run_plant(n, **kw))
        print(row(ceiling[-1]) + "   (ceiling search)", flush=True)
        if ceiling[-1].delivered_pct < 100.0:
            break
    # The table's runs count too: a ceiling search that fails at its first N leaves the table's best.
    everything = (*runs, *ceiling)
    delivered = [r for r in everything if r.delivered_pct >= 100.0]
    on_time = [r for r in delivered if r.jitter_p99_ms <= 100.0]
    report["ceiling"] = {
        "runs": [asdict(r) for r in ceiling],
        "sustained_points_per_s": max((r.points_per_s for r in delivered), default=0),
        "sustained_on_time_points_per_s": max((r.points_per_s for r in on_time), default=0),
    }
    print(
        f"ceiling: {report['ceiling']['sustained_points_per_s']:,.0f} points/s sustained (100 % delivered); "
        f"{report['ceiling']['sustained_on_time_points_per_s']:,.0f} with jitter p99 <= 100 ms too"
    )
    report["modbus"] = modbus_rates(binaries, port)
    print(f"modbus one connection, 60 registers: {report['modbus']}", flush=True)
    report["replay"] = replay_rate()
    print(f"replay: {report['replay']['replay_points_per_s']:,} points/s", flush=True)
    return report


if __name__ == "__main__":
    main()
