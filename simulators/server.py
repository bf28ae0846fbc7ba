"""Serve a scenario's devices over Modbus: TCP, RTU framing over TCP, or RTU on a serial line.

One pymodbus server per bus; each device is a `SimDevice` whose action computes the requested
registers from the physics at the simulated "now", after the bus's faults and wire timing have had
their say. Every request is logged (real monotonic start/end) so a test can check that requests on a
serial line never overlap.

    async with SimulatedFactory(load_scenario("tiny"), clock=FixedClock(t)) as factory:
        bus = factory.bus("meters")            # bus.host, bus.port (or bus.client_port for serial)
        bus.faults.set(1, Fault(FaultKind.TIMEOUT))
        factory.true_counters("main_meter")   # what the physics says, whatever the faults show

Compressor controllers also take writes (functions 6 and 16) to the holding registers their profile
declares `writable`; accepted writes go to a `ControlSink` (simulators/controls.py). Refusals, as a
real controller gives them: a register that is unknown or read-only -> exception 02 (illegal data
address); any write while the panel key is at local (`remote_enabled` = 0) -> exception 04 (device
failure: the controller is well but will not act), nothing changes; a value the point's encoding or
the controller rejects (out of range, load pressure above unload pressure) -> exception 03. Every
accepted and refused write request is counted per device (`SimulatedFactory.write_counts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from agent.config.profile import (
    BitPoint,
    BoolPoint,
    Function,
    NumericPoint,
    Profile,
    StringPoint,
    register_count,
)
from agent.config.registry import ProfileRegistry
from agent.modbus.decode import decode_point, encode_point
from simulators.clock import Clock, RealClock
from simulators.controls import CONTROL_OF_POINT, ControlSink, PanelControls
from simulators.faults import Fault, FaultKind, FaultTable
from simulators.generic import GenericDevice
from simulators.scenario import Bus, DeviceSpec, Scenario
from simulators.site import SiteModel

__all__ = [
    "BusServer",
    "Endpoint",
    "ProfileServer",
    "RequestRecord",
    "SimulatedFactory",
    "WriteCounts",
    "wire_seconds",
]

_CHAR_BITS = 11  # start + 8 data + parity/second stop + stop: the Modbus RTU character


@dataclass
class RequestRecord:
    unit_id: int
    function: int
    address: int
    count: int
    start: float  # time.monotonic() when the server had the whole request
    end: float = math.nan  # time.monotonic() when the answer (or silence) was decided
    sim_time: float = math.nan
    outcome: str = "ok"  # ok | exception N | no_answer | corrupt


@dataclass(frozen=True)
class Endpoint:
    bus: str
    transport: str
    address: str  # host:port, or the serial device path a client opens
    unit_id: int
    device: str
    profile: str


@dataclass
class WriteCounts:
    """Write requests (function 6 or 16) a device answered normally, and those it refused."""

    accepted: int = 0
    refused: int = 0


def wire_seconds(baudrate: int, request_bytes: int, response_bytes: int) -> float:
    """Time an RTU exchange occupies the line: both frames plus a 3.5-character silence after each."""
    return (request_bytes + response_bytes + 7) * _CHAR_BITS / baudrate


def _response_bytes(function: int, count: int) -> int:
    payload = math.ceil(count / 8) if function in (1, 2) else 2 * count
    return 5 + payload  # unit, function, byte count, payload, CRC(2)


class _DeviceImage:
    """Turns physics values into the registers of one device's profile."""

    def __init__(self, spec: DeviceSpec, profile: Profile) -> None:
        self.spec = spec
        self.profile = profile
        self.tables: dict[Function, list[NumericPoint | BoolPoint | BitPoint | StringPoint]] = {}
        for point in profile.points:
            self.tables.setdefault(point.function, []).append(point)

    @property
    def takes_writes(self) -> bool:
        """A controller with a control surface (writable points) answers writes; others do not."""
        return self.spec.kind == "compressor" and any(p.writable for p in self.profile.points)

    def writable_points(
        self, address: int, words: list[int]
    ) -> list[tuple[NumericPoint | BoolPoint | BitPoint | StringPoint, list[int]]] | None:
        """The writable holding points exactly covered by a write of `words` at `address`, each with
        its registers; None when any register is unknown, read-only or only part of a point."""
        covered = []
        position = address
        end = address + len(words)
        holding = {p.address: p for p in self.tables.get(Function.HOLDING, []) if p.writable}
        while position < end:
            point = holding.get(position)
            if point is None or point.name not in CONTROL_OF_POINT:
                return None
            width = register_count(point)
            if position + width > end:
                return None
            covered.append((point, words[position - address : position - address + width]))
            position += width
        return covered

    def span(self, function: Function) -> int:
        points = self.tables.get(function, [])
        return max((p.address + register_count(p) for p in points), default=0)

    def refuse(self, function: Function, address: int, count: int) -> ExcCodes | None:
        """The exception a real device of this model gives for the request, if any."""
        return _refusal(self.profile, function, address, count)

    def registers(self, function: Function, values: dict[str, float]) -> list[int]:
        words = [0] * self.span(function)
        for point in self.tables.get(function, []):
            if isinstance(point, StringPoint):
                encoded = encode_point(point, self.spec.name.upper()[: 2 * point.length], self.profile.order)
            else:
                encoded = self._encode_number(point, values.get(point.name, 0.0))
            for offset, word in enumerate(encoded):
                words[point.address + offset] |= word
        return words

    def _encode_number(self, point: NumericPoint | BoolPoint | BitPoint, value: float) -> list[int]:
        if not isinstance(point, NumericPoint):
            return encode_point(point, bool(value), self.profile.order)
        order = self.profile.order_of(point)
        try:
            return encode_point(point, value, order)
        except ValueError:
            # A counter past its register width wraps, as the real register does.
            width_value = float(2 ** (16 * register_count(point))) * point.scale
            return encode_point(point, math.fmod(value - point.offset, width_value) + point.offset, order)


@dataclass
class BusServer:
    """One bus of the scenario, served by one pymodbus server."""

    spec: Bus
    images: dict[int, _DeviceImage]
    model: SiteModel
    clock: Clock
    faults: FaultTable = field(default_factory=FaultTable)
    request_log: list[RequestRecord] = field(default_factory=list)
    controls: ControlSink | None = None
    write_counts: dict[int, WriteCounts] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    client_port: str = ""  # serial: the pty a client opens
    _server: Any = None
    _socat: asyncio.subprocess.Process | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None
    _corrupt_next: set[int] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        return self.client_port if self.spec.transport == "serial" else f"{self.host}:{self.port}"

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(self.name, self.spec.transport, self.address, unit, image.spec.name, image.profile.id)
            for unit, image in sorted(self.images.items())
        ]

    async def start(self) -> None:
        devices = [self._sim_device(unit, image) for unit, image in self.images.items()]
        # Unit id 0 in pymodbus catches every id no device has; it spans the whole address space so
        # that its action (silence) runs whatever the request.
        coils, discrete, _, _ = _empty_simdata()
        everything = _register_block(65535)
        devices.append(SimDevice(0, simdata=(coils, discrete, everything, everything), action=_absent))
        if self.spec.transport == "serial":
            server_port = await self._start_socat()
            self._server = ModbusSerialServer(
                devices,
                framer=FramerType.RTU,
                port=server_port,
                baudrate=self.spec.baudrate or 9600,
                ignore_missing_devices=True,
                trace_packet=self._trace,
            )
        else:
            framer = FramerType.SOCKET if self.spec.transport == "tcp" else FramerType.RTU
            self._server = ModbusTcpServer(
                devices,
                address=(self.host, self.port),
                framer=framer,
                ignore_missing_devices=True,
                trace_packet=self._trace,
            )
        await self._server.serve_forever(background=True)
        if self.spec.transport != "serial":
            self.port = self._server.transport.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
        if self._socat is not None:
            if self._socat.returncode is None:
                self._socat.terminate()
            try:
                await asyncio.wait_for(self._socat.wait(), timeout=5)
            except TimeoutError:
                self._socat.kill()
                await self._socat.wait()
            self._socat = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _start_socat(self) -> str:
        socat = shutil.which("socat")
        if socat is None:
            raise RuntimeError(f"bus {self.name}: a serial bus needs socat (apt-get install socat)")
        self._tmp = tempfile.TemporaryDirectory(prefix=f"sim-{self.name}-")
        server_link, client_link = Path(self._tmp.name) / "server", Path(self._tmp.name) / "client"
        self._socat = await asyncio.create_subprocess_exec(
            socat,
            f"pty,raw,echo=0,link={server_link}",
            f"pty,raw,echo=0,link={client_link}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5.0
        while not (server_link.exists() and client_link.exists()):
            if self._socat.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bus {self.name}: socat did not create the pty pair")
            await asyncio.sleep(0.01)
        self.client_port = str(client_link)
        return str(server_link)

    def _sim_device(self, unit: int, image: _DeviceImage) -> SimDevice:
        coils, discrete, _, _ = _empty_simdata()
        holding, inputs = (_register_block(image.span(f)) for f in (Function.HOLDING, Function.INPUT))
        if image.takes_writes:
            # The whole holding space, so that every write reaches `_write` (and is counted there);
            # reads past the map are still refused in `_answer`, as before.
            holding = _register_block(65535)
        return SimDevice(
            unit,
            simdata=(coils, discrete, holding, inputs),
            action=partial(self._action, unit, image),
        )

    async def _action(
        self,
        unit: int,
        image: _DeviceImage,
        function: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: Any,
    ) -> ExcCodes | None:
        record = RequestRecord(unit, function, address, count, time.monotonic())
        try:
            return await self._answer(
                unit, image, function, start_address, address, count, registers, record, set_values
            )
        finally:
            record.end = time.monotonic()
            self.request_log.append(record)

    async def _answer(
        self,
        unit: int,
        image: _DeviceImage,
        function: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        record: RequestRecord,
        set_values: Any = None,
    ) -> ExcCodes | None:
        faults = self.faults
        if faults.transport_fault(unit, FaultKind.TIMEOUT) or faults.transport_fault(unit, FaultKind.OFFLINE):
            record.outcome = "no_answer"
            raise NoSuchIdException(f"unit {unit} is silent (fault)")
        await self._delay(unit, function, count)
        table = Function.INPUT if function == 4 else Function.HOLDING
        if function in (6, 16) and image.takes_writes:
            if set_values is None:
                return None  # pymodbus reads the written registers back for the response: as written
            refusal = _exception_fault(faults, unit) or self._write(unit, image, address, set_values, record)
            self._count_write(unit, refusal is None)
            if refusal is not None:
                record.outcome = f"exception {int(refusal)}"
            return refusal
        refusal = _exception_fault(faults, unit) or image.refuse(table, address, count)
        if function not in (3, 4):
            refusal = ExcCodes.ILLEGAL_FUNCTION
        elif refusal is None and address + count > image.span(table):
            refusal = ExcCodes.ILLEGAL_ADDRESS
        if refusal is not None:
            record.outcome = f"exception {int(refusal)}"
            return refusal
        record.sim_time = self.clock.now()
        values = self.model.values(image.spec.name, record.sim_time)
        if image.takes_writes and self.controls is not None:
            values = _with_controls(values, self.controls.control_values(image.spec.name, record.sim_time))
        values = faults.apply_values(unit, image.profile, values)
        words = image.registers(table, values)
        registers[address - start_address : address - start_address + count] = words[
            address : address + count
        ]
        if faults.transport_fault(unit, FaultKind.CORRUPT):
            record.outcome = "corrupt"
            self._corrupt_next.add(unit)
        return None

    def _write(
        self, unit: int, image: _DeviceImage, address: int, set_values: Any, record: RequestRecord
    ) -> ExcCodes | None:
        """Decode and hand over one write request; the exception a real controller would give, or None."""
        words = [int(w) for w in (set_values if isinstance(set_values, list) else [set_values])]
        covered = image.writable_points(address, words)
        if covered is None or self.controls is None:
            return ExcCodes.ILLEGAL_ADDRESS
        record.sim_time = now = self.clock.now()
        device = image.spec.name
        if not self.controls.remote_enabled(device, now):
            return ExcCodes.DEVICE_FAILURE
        decoded = []
        for point, registers in covered:
            value = decode_point(
                point,
                registers,
                image.profile.order_of(point) if isinstance(point, NumericPoint) else image.profile.order,
            )
            if value.quality != "good" or not isinstance(value.value, int | float):
                return ExcCodes.ILLEGAL_VALUE
            decoded.append((point, float(value.value)))
        for point, number in decoded:
            outcome = self.controls.write(device, CONTROL_OF_POINT[point.name], number, now)
            if not outcome.accepted:
                remote_off = not self.controls.remote_enabled(device, now)
                return ExcCodes.DEVICE_FAILURE if remote_off else ExcCodes.ILLEGAL_VALUE
        return None

    def _count_write(self, unit: int, accepted: bool) -> None:
        counts = self.write_counts.setdefault(unit, WriteCounts())
        if accepted:
            counts.accepted += 1
        else:
            counts.refused += 1

    async def _delay(self, unit: int, function: int, count: int) -> None:
        delay = 0.0
        if self.spec.baudrate:
            delay += wire_seconds(self.spec.baudrate, 8, _response_bytes(function, count))
        slow = self.faults.transport_fault(unit, FaultKind.SLOW)
        if slow is not None:
            delay += slow.delay_s
        if delay > 0:
            await asyncio.sleep(delay)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending or not data:
            return data
        unit = data[6] if self.spec.transport == "tcp" and len(data) > 6 else data[0]
        if unit not in self._corrupt_next:
            return data
        self._corrupt_next.discard(unit)
        if self.spec.transport == "tcp":
            return data[:2] + b"\x12\x34" + data[4:]  # a protocol id that is not Modbus
        return data[:-1] + bytes([data[-1] ^ 0xFF])  # a CRC that does not match


def _with_controls(values: dict[str, float], controls: dict[str, float]) -> dict[str, float]:
    """The physics' values with the controller's control registers; a tripped machine shows its fault."""
    merged = values | controls
    if controls.get("tripped"):
        merged |= {"state": 3.0, "alarm_word": 1.0, "active_power_kw": 0.0, "fad_m3_min": 0.0}
        merged |= {"motor_current_a": 0.0, "speed_pct": 0.0, "motor_speed_rpm": 0.0}
    return merged


def _exception_fault(faults: FaultTable, unit: int) -> ExcCodes | None:
    fault = faults.transport_fault(unit, FaultKind.EXCEPTION)
    return ExcCodes(fault.code) if fault is not None else None


def _empty_simdata() -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
    bits = [SimData(0, values=False, datatype=DataType.BITS)]
    return (bits, list(bits), _register_block(0), _register_block(0))


def _register_block(span: int) -> list[SimData]:
    if span == 0:
        return [SimData(0, count=1, datatype=DataType.INVALID)]
    return [SimData(0, count=span, datatype=DataType.REGISTERS)]


class SimulatedFactory:
    """All buses of a scenario, started and stopped together (an async context manager)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        registry: ProfileRegistry | None = None,
        controls: ControlSink | None = None,
    ) -> None:
        self.scenario = scenario
        self.clock = clock or RealClock()
        self.model = SiteModel(scenario, retrofit=True)
        self.controls: ControlSink = controls or PanelControls(remote=_panel_keys(scenario))
        registry = registry or ProfileRegistry()
        self.buses: dict[str, BusServer] = {}
        for bus in scenario.buses:
            images = {d.unit_id: _DeviceImage(d, _profile(registry, d)) for d in bus.devices}
            server = BusServer(
                bus,
                images,
                self.model,
                self.clock,
                host=host,
                port=(ports or {}).get(bus.name, 0),
                controls=self.controls,
            )
            for device in bus.devices:
                for spec in device.faults:
                    server.faults.set(
                        device.unit_id, Fault(FaultKind(spec.kind), **spec.model_dump(exclude={"kind"}))
                    )
            self.buses[bus.name] = server

    def bus(self, name: str) -> BusServer:
        return self.buses[name]

    def bus_of(self, device: str) -> BusServer:
        for server in self.buses.values():
            if any(image.spec.name == device for image in server.images.values()):
                return server
        raise KeyError(f"scenario {self.scenario.name}: no device {device!r}")

    def set_fault(self, device: str, fault: Fault) -> None:
        self.bus_of(device).faults.set(self.scenario.device(device).unit_id, fault)

    def clear_fault(self, device: str, kind: FaultKind | None = None) -> None:
        self.bus_of(device).faults.clear(self.scenario.device(device).unit_id, kind)

    def write_counts(self, device: str) -> WriteCounts:
        """Write requests the device accepted and refused since the factory started."""
        counts = self.bus_of(device).write_counts.get(self.scenario.device(device).unit_id, WriteCounts())
        return WriteCounts(counts.accepted, counts.refused)

    def set_remote_enabled(self, device: str, enabled: bool) -> None:
        """Test hook: turn the machine's panel key to remote (True) or local (False)."""
        self.controls.set_remote_enabled(self._compressor(device), enabled, self.clock.now())

    def trip(self, device: str) -> None:
        """Test hook: the machine trips (motor overload) and stops."""
        self.controls.trip(self._compressor(device), self.clock.now())

    def _compressor(self, device: str) -> str:
        if self.scenario.device(device).kind != "compressor":
            raise KeyError(f"scenario {self.scenario.name}: {device!r} is not a compressor")
        return device

    def true_counters(self, device: str, t: float | None = None) -> dict[str, float]:
        """The physics' counters (kWh, h, m3, units) at t (default: the clock's now), faults ignored."""
        return self.model.counters(device, self.clock.now() if t is None else t)

    def endpoints(self) -> list[Endpoint]:
        return [e for server in self.buses.values() for e in server.endpoints()]

    async def start(self) -> None:
        self.model.warm(self.clock.now())
        try:
            for server in self.buses.values():
                await server.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for server in self.buses.values():
            with contextlib.suppress(OSError):
                await server.stop()

    async def __aenter__(self) -> SimulatedFactory:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def _profile(registry: ProfileRegistry, device: DeviceSpec) -> Profile:
    try:
        return registry.get(device.profile)
    except KeyError:
        raise KeyError(
            f"device {device.name}: profile {device.profile!r} not found in {registry.dirs}"
        ) from None


class ProfileServer:
    """Generic devices (simulators/generic.py), one per unit id, on one Modbus TCP socket.

    Any profile can be served this way without physics: `energy-agent check` is tested against it
    for every shipped profile, with and without faults in the map.

        async with ProfileServer({1: GenericDevice(profile)}) as server:
            ... server.host, server.port
    """

    def __init__(self, devices: dict[int, GenericDevice], host: str = "127.0.0.1", port: int = 0) -> None:
        self.devices = devices
        self.host, self.port = host, port
        self._server: Any = None

    async def start(self) -> None:
        sims = [self._sim_device(unit, device) for unit, device in self.devices.items()]
        coils, discrete, _, _ = _empty_simdata()
        everything = _register_block(65535)
        sims.append(SimDevice(0, simdata=(coils, discrete, everything, everything), action=_absent))
        self._server = ModbusTcpServer(
            sims, address=(self.host, self.port), framer=FramerType.SOCKET, ignore_missing_devices=True
        )
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def __aenter__(self) -> ProfileServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _sim_device(self, unit: int, device: GenericDevice) -> SimDevice:
        coils, discrete = (
            [SimData(0, values=False, count=max(1, device.span(f)), datatype=DataType.BITS)]
            for f in (Function.COIL, Function.DISCRETE)
        )
        holding, inputs = (_register_block(device.span(f)) for f in (Function.HOLDING, Function.INPUT))
        return SimDevice(
            unit, simdata=(coils, discrete, holding, inputs), action=partial(self._action, device)
        )

    async def _action(
        self,
        device: GenericDevice,
        function: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: Any,
    ) -> ExcCodes | None:
        if function not in (3, 4):
            return None if function in (1, 2) else ExcCodes.ILLEGAL_FUNCTION
        table = Function.INPUT if function == 4 else Function.HOLDING
        refusal = _refusal(device.profile, table, address, count)
        if refusal is not None:
            return refusal
        words = device.registers(table)
        registers[address - start_address : address - start_address + count] = words[
            address : address + count
        ]
        return None


def _refusal(profile: Profile, function: Function, address: int, count: int) -> ExcCodes | None:
    """The exception a real device of the profile's model gives for a read, if any."""
    if count > profile.max_registers_per_read:
        return ExcCodes.ILLEGAL_VALUE
    for forbidden in profile.forbidden:
        if forbidden.function is function and address <= forbidden.end and forbidden.start < address + count:
            return ExcCodes.ILLEGAL_ADDRESS
    return None


async def _absent(function: int, *_: Any) -> ExcCodes | None:
    """Unit id 0's action, for ids no device has: on a real line nobody answers."""
    raise NoSuchIdException("no device with this unit id")


def _panel_keys(scenario: Scenario) -> dict[str, bool]:
    """Each compressor device's panel key when the simulator starts (the scenario's, default local)."""
    machines = {c.name: c.remote_enabled for c in scenario.air.compressors} if scenario.air else {}
    return {
        d.name: machines.get(str(d.compressor), False) for d in scenario.devices if d.kind == "compressor"
    }
