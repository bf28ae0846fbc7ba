"""A device for any profile: plausible values from each point's unit and role, no physics written.

`GenericDevice(profile)` answers every point of a profile with a value that fits what it measures
(recognised as `energy-agent check` recognises it, agent/modbus/plausibility.py): a balanced
three-phase load (230 V phase, 60 A, PF 0.92, 50 Hz, P = U x I x PF per phase, totals the sums),
energy counters growing at that power, hour counters at clock rate, 7 bar discharge pressure, and so
on. `fault` makes it serve the map wrong in one known way (a `Cause`: words or bytes swapped, values
x10 or /10, every value one register up or down, the other register table), which is what the check
must recognise. `simulators.server.ProfileServer` serves many of them on one socket, one unit id each.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from agent.config.profile import (
    BitPoint,
    BoolPoint,
    Function,
    NumericPoint,
    Order,
    PointKind,
    Profile,
    Role,
    StringPoint,
    register_count,
)
from agent.modbus.decode import encode_point
from agent.modbus.plausibility import Cause, quantity_of

__all__ = ["GenericDevice", "generic_values"]

AnyPoint = NumericPoint | BoolPoint | BitPoint | StringPoint

_PHASE_VOLTS = (230.0, 230.9, 229.3)
_PHASE_AMPS = (60.0, 58.2, 61.8)
_PF = 0.92
_FREQUENCY = 50.0
_IMPORT_KWH_AT_START = 12345.67
_EXPORT_KWH = 321.5
_INT_BITS = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}


def _electrical(phases: str = "123") -> dict[tuple[str, str], float]:
    """Base-unit values (V, A, W, var, VA) by (kind, phase) of a balanced load on `phases`
    ("123": three-phase; "1": a single-phase meter, whose totals are its one phase)."""
    out: dict[tuple[str, str], float] = {}
    sin = math.sqrt(1 - _PF**2)
    for i, (volts, amps) in enumerate(zip(_PHASE_VOLTS, _PHASE_AMPS, strict=True)):
        phase = str(i + 1)
        if phase not in phases:
            continue
        out[("voltage_ln", phase)] = volts
        out[("current", phase)] = amps
        out[("active_power", phase)] = volts * amps * _PF
        out[("reactive_power", phase)] = volts * amps * sin
        out[("apparent_power", phase)] = volts * amps
        out[("power_factor", phase)] = _PF
    pairs = ((1, 2), (2, 3), (3, 1))
    for a, b in pairs:
        ua, ub = _PHASE_VOLTS[a - 1], _PHASE_VOLTS[b - 1]
        out[("voltage_ll", str(a))] = math.sqrt(ua**2 + ub**2 + ua * ub)
    for kind in ("active_power", "reactive_power", "apparent_power", "current"):
        out[(kind, "total")] = sum(out[(kind, p)] for p in phases)
        out[(kind, "avg")] = out[(kind, "total")] / len(phases)
        out[(kind, "other")] = out[(kind, "total")]
    for kind in ("voltage_ln", "voltage_ll"):
        out[(kind, "avg")] = out[(kind, "total")] = out[(kind, "other")] = sum(
            out[(kind, p)] for p in phases
        ) / len(phases)
    out[("current", "n")] = 1.5
    out[("power_factor", "total")] = out[("power_factor", "avg")] = _PF
    out[("frequency", "total")] = _FREQUENCY
    return out


_THREE_PHASE = _electrical("123")
_SINGLE_PHASE = _electrical("1")


def _phases_of(profile: Profile) -> dict[tuple[str, str], float]:
    """A meter with no phase-2 or phase-3 value and no line-to-line voltage is single-phase."""
    three = False
    for point in profile.points:
        quantity = quantity_of(point) if isinstance(point, NumericPoint) else None
        if quantity is not None and quantity.kind in ("voltage_ln", "voltage_ll", "current", "active_power"):
            three = three or quantity.kind == "voltage_ll" or quantity.phase in ("2", "3")
    return _THREE_PHASE if three else _SINGLE_PHASE


def _counter(
    point: NumericPoint, kind: str, elapsed_s: float, electrical: dict[tuple[str, str], float]
) -> float:
    """A counter's value in base units after `elapsed_s` seconds."""
    name, hours = point.name, elapsed_s / 3600
    if kind == "active_energy":
        if "export" in name or "reverse" in name:
            return _EXPORT_KWH
        return _IMPORT_KWH_AT_START + electrical[("active_power", "total")] / 1000 * hours
    if kind == "reactive_energy":
        return 2345.6 + electrical[("reactive_power", "total")] / 1000 * hours
    if kind == "apparent_energy":
        return 13456.7 + electrical[("apparent_power", "total")] / 1000 * hours
    if kind == "hours":
        if point.role is Role.LOADED_HOURS or "load" in name:
            return 9000.0 + 0.8 * hours
        return 12000.0 + hours
    if kind == "volume":
        return 50000.0 + 7.0 * elapsed_s / 60
    return 1000.0 + elapsed_s  # units, cycles: one a second


def _gauge(point: NumericPoint, kind: str, phase: str, electrical: dict[tuple[str, str], float]) -> float:
    name = point.name
    if (kind, phase) in electrical:
        return electrical[(kind, phase)]
    if kind == "pressure":
        if "unload" in name or "stop" in name:
            return 7.5
        if "load" in name or "restart" in name:
            return 6.5
        return 8.0 if "rated" in name or "max" in name else 7.0
    if kind == "state" and point.states is not None:
        return float(point.states.loaded[0])
    fixed = {"temperature": 20.0 if "outdoor" in name or "ambient" in name else 75.0, "speed": 2500.0}
    fixed |= {"percent": 3.5 if "thd" in name else 80.0, "angle": 23.1, "flow": 7.0}
    fixed["frequency"] = _FREQUENCY
    return fixed.get(kind, 1.0)


def _numeric_value(point: NumericPoint, elapsed_s: float, electrical: dict[tuple[str, str], float]) -> float:
    quantity = quantity_of(point)
    if quantity is None:
        value = 1000.0 + elapsed_s if point.kind is PointKind.COUNTER else 1.0
    elif point.kind is PointKind.COUNTER:
        value = _counter(point, quantity.kind, elapsed_s, electrical) / quantity.to_base
    else:
        value = _gauge(point, quantity.kind, quantity.phase, electrical) / quantity.to_base
    if point.valid_range is not None:
        lo, hi = point.valid_range
        if not lo <= value <= hi:
            value = lo + (hi - lo) / 2
    return value


def generic_values(profile: Profile, elapsed_s: float) -> dict[str, float]:
    """Every numeric point's value, in the point's unit, `elapsed_s` after the device started."""
    electrical = _phases_of(profile)
    return {
        p.name: _numeric_value(p, elapsed_s, electrical)
        for p in profile.points
        if isinstance(p, NumericPoint)
    }


_ORDERS = {
    (False, False): Order.ABCD,
    (True, False): Order.CDAB,
    (False, True): Order.BADC,
    (True, True): Order.DCBA,
}


class GenericDevice:
    """One device serving `profile` with generic values, optionally with one `fault` in its map."""

    def __init__(
        self, profile: Profile, fault: Cause | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.profile = profile
        self.fault = fault
        self._clock = clock
        self._started = clock()
        self._placed = [(self._table(p), self._address(p), p) for p in profile.points]

    def _table(self, point: AnyPoint) -> Function:
        if self.fault is Cause.FUNCTION_CODE and not point.function.is_bit:
            return Function.INPUT if point.function is Function.HOLDING else Function.HOLDING
        return point.function

    def _address(self, point: AnyPoint) -> int:
        shift = {Cause.ADDRESS_PLUS_1: 1, Cause.ADDRESS_MINUS_1: -1}.get(self.fault, 0) if self.fault else 0
        return point.address + shift

    def span(self, function: Function) -> int:
        """Registers (or bits) the device has in `function`'s table."""
        return max((a + register_count(p) for t, a, p in self._placed if t is function and a >= 0), default=0)

    def registers(self, function: Function) -> list[int]:
        """The whole table as served now (fault included)."""
        values = generic_values(self.profile, self._clock() - self._started)
        words = [0] * self.span(function)
        for table, address, point in self._placed:
            if table is not function or address < 0:
                continue
            for offset, word in enumerate(self._encode(point, values)):
                words[address + offset] |= word
        if self.fault is Cause.BYTE_ORDER:
            words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
        return words

    def bits(self, function: Function) -> list[bool]:
        return [False] * self.span(function)

    def _encode(self, point: AnyPoint, values: dict[str, float]) -> list[int]:
        if isinstance(point, StringPoint):
            return encode_point(point, "GENERIC"[: 2 * point.length], self.profile.order)
        if not isinstance(point, NumericPoint):
            return encode_point(point, False, self.profile.order)
        value = values[point.name]
        if self.fault is Cause.SCALE_X10:
            value *= 10
        elif self.fault is Cause.SCALE_DIV10:
            value /= 10
        order = self.profile.order_of(point)
        if self.fault is Cause.WORD_ORDER:
            order = _ORDERS[(not order.swap_words, order.swap_bytes)]
        try:
            return encode_point(point, value, order)
        except ValueError:  # x10 past the register's width: the largest value it holds
            return encode_point(point, _clamped(point, value), order)


def _clamped(point: NumericPoint, value: float) -> float:
    bits = _INT_BITS[point.dtype]
    lo, hi = (0, 2**bits - 1) if point.dtype.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    raw = min(max((value - point.offset) / point.scale, float(lo)), float(hi))
    return raw * point.scale + point.offset


def main(argv: list[str] | None = None) -> int:
    """`python -m simulators.generic [--port N] PROFILE[:FAULT] ...`: serve generic devices on unit
    ids 1, 2, ... (to practise `energy-agent check`); FAULT is one of the `Cause` values."""
    import argparse
    import asyncio

    from agent.config.registry import ProfileRegistry
    from simulators.server import ProfileServer

    parser = argparse.ArgumentParser(prog="python -m simulators.generic", description=main.__doc__)
    parser.add_argument("devices", nargs="+", metavar="PROFILE[:FAULT]")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5020)
    args = parser.parse_args(argv)
    registry = ProfileRegistry()
    devices: dict[int, GenericDevice] = {}
    for unit, spec in enumerate(args.devices, 1):
        profile_id, _, fault = spec.partition(":")
        try:
            devices[unit] = GenericDevice(registry.get(profile_id), Cause(fault) if fault else None)
        except (KeyError, ValueError) as exc:
            parser.error(f"{spec}: {exc} (faults: {', '.join(c.value for c in Cause)})")

    async def serve() -> None:
        async with ProfileServer(devices, host=args.host, port=args.port) as server:
            for unit, device in devices.items():
                fault = device.fault.value if device.fault else "none"
                print(
                    f"{server.host}:{server.port} unit {unit}: {device.profile.id} (fault {fault})",
                    flush=True,
                )
            await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
