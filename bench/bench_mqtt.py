"""CPU per telemetry message through the MQTT sink (`MqttPublisher.deliver`), QoS 1, real Mosquitto.

    .venv/bin/python bench/bench_mqtt.py                          # 3.1.1 and 5, full and pre-built
    .venv/bin/python bench/bench_mqtt.py --rounds 7 --windows 50
    .venv/bin/python bench/bench_mqtt.py --sink-file /tmp/mqtt_before.py   # A/B against another sink
    .venv/bin/python bench/bench_mqtt.py --raw                    # + a minimal QoS 1 client (floor)

A window is 200 OutboxRows (one poll of each of 200 devices, 30 float32 points, ~2.5 KB of JSON), handed
to `deliver` at once like the forwarder does at 200 devices. Figures are process CPU time
(time.process_time: every thread of this process; Mosquitto runs in its own process) per message,
the median over `--rounds` rounds in which every variant runs once, alternating.

`full`: the sink as in production (telemetry_payload per row included). `prebuilt`: telemetry_payload
replaced by a lookup of the payload built beforehand, so the figure is the sink + paho alone.
`--sink-file` loads MqttPublisher from another copy of agent/sinks/mqtt.py (e.g. the previous commit's:
`git show HEAD~1:agent/sinks/mqtt.py > /tmp/mqtt_before.py`) and runs it as variant `B:` alternating
with the working tree's. `--raw` adds a minimal QoS 1 publisher on a plain non-blocking socket (no
paho): what a publish path without the library would cost, for comparison only.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config.site import MqttSink  # noqa: E402
from agent.outbox.store import OutboxRow  # noqa: E402
from agent.readings.model import PollResult, Reading  # noqa: E402
from agent.sinks import mqtt as sink_module  # noqa: E402
from agent.sinks import payloads  # noqa: E402
from tests.integration.services import Mosquitto  # noqa: E402

DEVICES = 200
POINTS = 30
UNITS = ("V", "A", "kW", "kvar", "kVA", "Hz", "kWh", "")
NAMES = [
    f"{quantity}_{phase}"
    for quantity in ("voltage", "current", "active_power", "reactive_power", "apparent_power", "pf")
    for phase in ("l1", "l2", "l3", "total", "avg")
]


def f32(value: float) -> float:
    """A float32 register value as Python sees it (e.g. 230.1199951171875): what the poller yields."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def poll(device: int, seq: int, t0: float) -> PollResult:
    readings = tuple(
        Reading(NAMES[i], f32(100.0 + i * 7.3 + (seq * 0.37 + device * 0.11) % 5), UNITS[i % len(UNITS)])
        for i in range(POINTS)
    )
    return PollResult(
        site="plant1",
        device=f"meter{device:04d}",
        device_kind="power_meter",
        profile="eastron/sdm630",
        ts=t0 + seq,
        seq=seq,
        readings=readings,
        area="hall-a",
        requested_at=t0 + seq + 0.0012,
        latency_ms=3.4,
        tags={"line": "l2", "floor": "1"},
    )


def make_windows(count: int, boot: float) -> list[list[OutboxRow]]:
    t0 = float(int(time.time()))
    windows: list[list[OutboxRow]] = []
    row_id = 0
    for seq in range(count):
        window = []
        for device in range(DEVICES):
            row_id += 1
            window.append(OutboxRow(id=row_id, result=poll(device, seq, t0), boot=boot))
        windows.append(window)
    return windows


def load_sink(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_other_sink", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Prebuilt:
    """Stands in for payloads.telemetry_payload: the bytes were built before the clock started."""

    def __init__(self, windows: Sequence[Sequence[OutboxRow]]) -> None:
        self.real = payloads.telemetry_payload
        self.built = {id(r.result): self.real(r.result, r.boot) for w in windows for r in w}

    def __call__(self, result: PollResult, boot: float | None = None) -> bytes:
        return self.built[id(result)]


async def run_sink(
    module: ModuleType, port: int, protocol: str, windows: Sequence[Sequence[OutboxRow]], max_inflight: int
) -> tuple[float, float]:
    """(CPU s, wall s) for delivering every window after one warm-up window."""
    config = MqttSink(host="127.0.0.1", port=port, protocol=protocol, max_inflight=max_inflight)  # type: ignore[arg-type]
    publisher = module.MqttPublisher(config, "plant1")
    try:
        first = await publisher.deliver(windows[0])
        assert first.error is None, first.error
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for window in windows[1:]:
            delivery = await publisher.deliver(window)
            if delivery.error is not None or delivery.acked_through != window[-1].id:
                raise RuntimeError(f"window not delivered: {delivery}")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await publisher.close()
    return cpu, wall


# --- a minimal QoS 1 publisher (no library): the floor a leaner path could reach -----------------------


class RawQos1:
    """MQTT 3.1.1 CONNECT, then PUBLISH QoS 1 for a window and read PUBACKs until all are in.

    Asyncio add_reader on a non-blocking socket, one sendall-like write of the whole window (packets
    joined), PUBACKs parsed from one bytes buffer. No reconnect, no TLS, no status: just the hot path."""

    def __init__(self, port: int, max_inflight: int) -> None:
        self.port = port
        self.max_inflight = max_inflight
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = b"bench-raw"
        body = b"\x00\x04MQTT\x04\x02\x00\x1e" + struct.pack("!H", len(client_id)) + client_id
        self.sock.sendall(b"\x10" + self._length(len(body)) + body)
        connack = self.sock.recv(4)
        if connack[:2] != b"\x20\x02" or connack[3] != 0:
            raise RuntimeError(f"CONNACK {connack!r}")
        self.sock.setblocking(False)
        self.loop = asyncio.get_running_loop()
        self.buffer = b""
        self.mid = 0
        self.outstanding: dict[int, int] = {}
        self.queue: list[tuple[int, bytes]] = []
        self.next = 0
        self.done: asyncio.Future[None] | None = None
        self.pending_out = bytearray()
        self.loop.add_reader(self.sock.fileno(), self._on_read)

    @staticmethod
    def _length(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n % 128, n // 128
            out.append(byte | (128 if n else 0))
            if not n:
                return bytes(out)

    def _packet(self, topic: bytes, payload: bytes) -> tuple[int, bytes]:
        self.mid = self.mid % 65535 + 1
        head = struct.pack("!H", len(topic)) + topic + struct.pack("!H", self.mid)
        return self.mid, b"\x32" + self._length(len(head) + len(payload)) + head + payload

    def _send_more(self) -> None:
        chunk = []
        while self.next < len(self.queue) and len(self.outstanding) < self.max_inflight:
            mid, packet = self.queue[self.next]
            self.outstanding[mid] = self.next
            chunk.append(packet)
            self.next += 1
        if chunk:
            self.pending_out += b"".join(chunk)
            self._flush()

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self.pending_out)
        except BlockingIOError:
            sent = 0
        del self.pending_out[:sent]
        if self.pending_out:
            self.loop.add_writer(self.sock.fileno(), self._on_write)

    def _on_write(self) -> None:
        self.loop.remove_writer(self.sock.fileno())
        self._flush()

    def _on_read(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        if not data:
            raise ConnectionError("broker closed")
        buf = self.buffer + data
        pos = 0
        while len(buf) - pos >= 4:
            if buf[pos] != 0x40:
                raise RuntimeError(f"unexpected packet {buf[pos]:#x}")
            mid = (buf[pos + 2] << 8) | buf[pos + 3]
            self.outstanding.pop(mid, None)
            pos += 4
        self.buffer = buf[pos:]
        self._send_more()
        if not self.outstanding and self.next == len(self.queue) and self.done and not self.done.done():
            self.done.set_result(None)

    async def deliver(self, topics_payloads: Sequence[tuple[bytes, bytes]]) -> None:
        self.queue = [self._packet(t, p) for t, p in topics_payloads]
        self.next = 0
        self.done = self.loop.create_future()
        self._send_more()
        await self.done

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.sendall(b"\xe0\x00")
        self.sock.close()


async def run_raw(
    port: int, windows: Sequence[Sequence[OutboxRow]], max_inflight: int, build: bool
) -> tuple[float, float]:
    client = RawQos1(port, max_inflight)
    prebuilt = [
        [
            (
                f"energy/plant1/{r.result.device}/telemetry".encode(),
                payloads.telemetry_payload(r.result, r.boot),
            )
            for r in w
        ]
        for w in windows
    ]

    def window_items(i: int) -> list[tuple[bytes, bytes]]:
        if not build:
            return prebuilt[i]
        return [
            (
                payloads.topic("energy", "plant1", r.result.device, "telemetry").encode(),
                payloads.telemetry_payload(r.result, r.boot),
            )
            for r in windows[i]
        ]

    try:
        await client.deliver(window_items(0))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(1, len(windows)):
            await client.deliver(window_items(i))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        client.close()
    return cpu, wall


# --- driver -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=30, help="timed windows of 200 rows per run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; every variant runs once per round")
    parser.add_argument("--protocols", default="3.1.1,5")
    parser.add_argument("--max-inflight", type=int, default=100)
    parser.add_argument("--sink-file", type=Path, help="another agent/sinks/mqtt.py to compare against (B:)")
    parser.add_argument("--raw", action="store_true", help="also a minimal QoS 1 publisher without paho")
    parser.add_argument("--only-prebuilt", action="store_true", help="skip the full (telemetry_payload) runs")
    args = parser.parse_args()

    boot = time.time()
    windows = make_windows(args.windows + 1, boot)
    size = statistics.mean(len(payloads.telemetry_payload(r.result, r.boot)) for r in windows[0])
    messages = args.windows * DEVICES
    prebuilt = Prebuilt(windows)

    sinks: list[tuple[str, ModuleType]] = [("A", sink_module)]
    if args.sink_file is not None:
        sinks.append(("B", load_sink(args.sink_file)))
    modes = ["prebuilt"] if args.only_prebuilt else ["full", "prebuilt"]

    variants: list[tuple[str, Callable[[int], Any]]] = []
    for protocol in args.protocols.split(","):
        for mode in modes:
            for label, module in sinks:

                def run(
                    port: int, module: ModuleType = module, protocol: str = protocol, mode: str = mode
                ) -> Any:
                    payloads.telemetry_payload = prebuilt if mode == "prebuilt" else prebuilt.real  # type: ignore[assignment]
                    try:
                        return run_sink(module, port, protocol, windows, args.max_inflight)
                    finally:
                        pass

                variants.append((f"{label}: mqtt {protocol} {mode}", run))
    if args.raw:
        for mode in modes:
            build = mode == "full"

            def raw(port: int, build: bool = build) -> Any:
                payloads.telemetry_payload = prebuilt.real  # type: ignore[assignment]
                return run_raw(port, windows, args.max_inflight, build)

            variants.append((f"raw qos1 3.1.1 {mode}", raw))

    cpu_us: dict[str, list[float]] = {name: [] for name, _ in variants}
    wall_us: dict[str, list[float]] = {name: [] for name, _ in variants}
    print(
        f"{DEVICES} rows/window x {args.windows} windows, {POINTS} points, payload {size:.0f} B, QoS 1, "
        f"max_inflight {args.max_inflight}; {args.rounds} rounds, alternating"
    )
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto").start()
        try:
            for round_no in range(args.rounds):
                order = variants if round_no % 2 == 0 else list(reversed(variants))
                for name, run in order:
                    cpu, wall = asyncio.run(run(broker.port))
                    payloads.telemetry_payload = prebuilt.real  # type: ignore[assignment]
                    cpu_us[name].append(cpu / messages * 1e6)
                    wall_us[name].append(wall / messages * 1e6)
                print(f"  round {round_no + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            broker.kill()
    print(f"{'variant':32} {'CPU us/msg median':>18} {'min':>7} {'max':>7} {'wall us/msg':>12}")
    for name, _ in variants:
        values = cpu_us[name]
        print(
            f"{name:32} {statistics.median(values):18.1f} {min(values):7.1f} {max(values):7.1f} "
            f"{statistics.median(wall_us[name]):12.1f}"
        )
    print(f"(CPU per message / {POINTS} = per point)")


if __name__ == "__main__":
    main()
