"""Is a register map right? Plausibility of a device's values, and the likely cause when they are not.

Pure: no I/O, no asyncio, no client library. The input is two `Snapshot`s of the raw registers of a
device, taken a few seconds apart (agent/modbus/snapshot.py reads them): every register the profile's
points occupy, plus the register just before and after each read block and the same blocks in the
other register table (input vs holding), so that the values can be decoded again under each
hypothesis of what is wrong with the map.

A point is judged by what it measures, recognised from its unit (and name, for phases and power
factor): voltage 80..500 V or 10..40 kV (a PT ratio applied), frequency 45..65 Hz, |PF| <= 1,
pressure -0.5..16 bar, hour counters monotonic and no faster than the clock, energy counters
non-decreasing and no faster than the measured power allows, the profile's own `valid_range`, and
floats that are finite and not denormal (a denormal float is the typical look of swapped words).
Across points: P total = sum of phase powers, P = U x I x PF (per phase, or sqrt(3) x U_LL x I),
S = U x I, U_LL = sqrt(3) x U_LN, loaded hours <= running hours.

`diagnose` judges the map as written, then again under each `Cause` (word order swapped, bytes
swapped, values 10x too large or too small, addresses one off either way, the other register table)
and names the cause under which the values become plausible.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from agent.config.profile import (
    Function,
    NumericPoint,
    Order,
    PointKind,
    Profile,
    Role,
    register_count,
)
from agent.modbus.decode import decode_point

__all__ = [
    "Cause",
    "CheckResult",
    "Diagnosis",
    "Judgement",
    "Quantity",
    "Snapshot",
    "diagnose",
    "judge",
    "quantity_of",
]


class Cause(StrEnum):
    """What may be wrong with a map; each names how the device differs from the profile."""

    WORD_ORDER = "word_order"  # multi-register values arrive with the other word order
    BYTE_ORDER = "byte_order"  # the two bytes of each register are the other way round
    SCALE_X10 = "scale_x10"  # values read 10x too large: the scale should be 10x smaller
    SCALE_DIV10 = "scale_div10"  # values read 10x too small: the scale should be 10x larger
    ADDRESS_PLUS_1 = "address_plus_1"  # each value sits one register above the profile's address
    ADDRESS_MINUS_1 = "address_minus_1"  # each value sits one register below the profile's address
    FUNCTION_CODE = "function_code"  # the values are in the other table (input vs holding)

    @property
    def advice(self) -> str:
        return _ADVICE[self]


_ADVICE = {
    Cause.WORD_ORDER: "word order: the device sends the other word first; flip the profile's `order` "
    "(ABCD <-> CDAB, BADC <-> DCBA)",
    Cause.BYTE_ORDER: "byte order: the bytes of each register are swapped; flip the profile's `order` "
    "(ABCD <-> BADC, CDAB <-> DCBA)",
    Cause.SCALE_X10: "scale x10: values read 10x too large; divide each `scale` by 10",
    Cause.SCALE_DIV10: "scale /10: values read 10x too small; multiply each `scale` by 10",
    Cause.ADDRESS_PLUS_1: "address off by one: the values sit one register higher than the profile "
    "says; add 1 to each `address`",
    Cause.ADDRESS_MINUS_1: "address off by one: the values sit one register lower; subtract 1 from each "
    "`address` (a 1-based register list entered as protocol addresses)",
    Cause.FUNCTION_CODE: "function code: the values are in the other register table; swap `function` "
    "holding <-> input",
}

_OTHER_TABLE = {Function.HOLDING: Function.INPUT, Function.INPUT: Function.HOLDING}


@dataclass(frozen=True)
class Snapshot:
    """Raw registers of one device at one moment: table -> address -> 16-bit word.

    `registers` are the reads the poller makes for the profile: the map as written is judged on
    them alone. `extra` are the reads only the hypotheses use (neighbours, the other table, the
    registers of a block the device refused, one by one). `t` is a monotonic time in seconds (only
    differences matter). A register in neither could not be read."""

    t: float
    registers: Mapping[Function, Mapping[int, int]]
    errors: Mapping[str, str] = field(default_factory=dict)  # read block -> why it failed
    extra: Mapping[Function, Mapping[int, int]] = field(default_factory=dict)

    def word(self, function: Function, address: int, *, extra: bool) -> int | None:
        found = self.registers.get(function, {}).get(address)
        if found is None and extra:
            found = self.extra.get(function, {}).get(address)
        return found


# --- what a point measures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """What a point measures: `kind`, the phase (`1`..`3`, `n`, `avg`, or `total`), and the factor
    from the point's unit to the base unit of the kind (V, A, W, var, VA, Hz, kWh, h, bar, degC)."""

    kind: str
    phase: str
    to_base: float


_UNITS: dict[str, tuple[str, float]] = {
    "v": ("voltage", 1.0),
    "kv": ("voltage", 1000.0),
    "a": ("current", 1.0),
    "ma": ("current", 0.001),
    "ka": ("current", 1000.0),
    "w": ("active_power", 1.0),
    "kw": ("active_power", 1000.0),
    "mw": ("active_power", 1e6),
    "var": ("reactive_power", 1.0),
    "kvar": ("reactive_power", 1000.0),
    "mvar": ("reactive_power", 1e6),
    "va": ("apparent_power", 1.0),
    "kva": ("apparent_power", 1000.0),
    "mva": ("apparent_power", 1e6),
    "hz": ("frequency", 1.0),
    "wh": ("active_energy", 0.001),
    "kwh": ("active_energy", 1.0),
    "mwh": ("active_energy", 1000.0),
    "varh": ("reactive_energy", 0.001),
    "kvarh": ("reactive_energy", 1.0),
    "mvarh": ("reactive_energy", 1000.0),
    "vah": ("apparent_energy", 0.001),
    "kvah": ("apparent_energy", 1.0),
    "mvah": ("apparent_energy", 1000.0),
    "bar": ("pressure", 1.0),
    "kpa": ("pressure", 0.01),
    "mpa": ("pressure", 10.0),
    "psi": ("pressure", 0.0689476),
    "degc": ("temperature", 1.0),
    "°c": ("temperature", 1.0),
    "c": ("temperature", 1.0),
    "rpm": ("speed", 1.0),
    "%": ("percent", 1.0),
    "deg": ("angle", 1.0),
    "°": ("angle", 1.0),
    "m3/min": ("flow", 1.0),
    "m3/h": ("flow", 1 / 60),
    "l/s": ("flow", 0.06),
    "l/min": ("flow", 0.001),
    "m3": ("volume", 1.0),
    "nm3": ("volume", 1.0),
    "l": ("volume", 0.001),
}
_HOURS = {"h": 1.0, "min": 1 / 60, "s": 1 / 3600}

_LINE_TO_LINE = re.compile(r"(l1_?l2|l2_?l3|l3_?l1|_ll(_|$)|line_line|_ab(_|$)|_bc(_|$)|_ca(_|$))")
_PHASE = re.compile(r"(?:^|_)(?:l|phase_?|ph)([123])(?:_|$)")
_NEUTRAL = re.compile(r"(?:^|_)(n|neutral)(?:_|$)")
_AVERAGE = re.compile(r"(?:^|_)(avg|average|mean)(?:_|$)")
_NOT_PRESENT = re.compile(r"(?:^|_)(demand|max|min|peak|maximum|minimum|rated|setpoint)(?:_|$)")


def _phase(name: str) -> str:
    """`1`..`3`, `n`, `avg`, `total`, or `other` for demands, extremes and settings (not the present
    value, so no cross-check uses them)."""
    if _NOT_PRESENT.search(name):
        return "other"
    if _AVERAGE.search(name):
        return "avg"
    if _LINE_TO_LINE.search(name):
        match = re.search(r"l([123])_?l[123]", name)
        return match.group(1) if match else "avg"
    match = _PHASE.search(name)
    if match:
        return match.group(1)
    if _NEUTRAL.search(name):
        return "n"
    return "total"


def quantity_of(point: NumericPoint) -> Quantity | None:
    """What the point measures, from its unit and name; None for what no rule judges."""
    name, unit = point.name, point.unit.strip().lower()
    if point.role is Role.COMPRESSOR_STATE:
        return Quantity("state", "total", 1.0)
    if ("power_factor" in name or re.match(r"^(pf|cos_?phi)(_|$)", name)) and not name.endswith("_4q"):
        return Quantity("power_factor", _phase(name), 1.0)
    if unit in _HOURS and (point.kind is PointKind.COUNTER or "hour" in name):
        return Quantity("hours", "total", _HOURS[unit])
    found = _UNITS.get(unit)
    if found is None:
        return None
    kind, factor = found
    if kind == "voltage":
        kind = "voltage_ll" if _LINE_TO_LINE.search(name) else "voltage_ln"
    if kind == "percent" or kind == "angle":
        return Quantity(kind, "total", factor)
    return Quantity(kind, _phase(name), factor)


# --- decoding under a hypothesis -------------------------------------------------------------------

_ORDERS = {
    (False, False): Order.ABCD,
    (True, False): Order.CDAB,
    (False, True): Order.BADC,
    (True, True): Order.DCBA,
}


def _read_value(profile: Profile, point: NumericPoint, snap: Snapshot, cause: Cause | None) -> _Read:
    table = (
        _OTHER_TABLE.get(point.function, point.function) if cause is Cause.FUNCTION_CODE else point.function
    )
    shift = 1 if cause is Cause.ADDRESS_PLUS_1 else -1 if cause is Cause.ADDRESS_MINUS_1 else 0
    order = profile.order_of(point)
    if cause is Cause.WORD_ORDER:
        order = _ORDERS[(not order.swap_words, order.swap_bytes)]
    elif cause is Cause.BYTE_ORDER:
        order = _ORDERS[(order.swap_words, not order.swap_bytes)]
    found = [
        snap.word(table, point.address + shift + i, extra=cause is not None)
        for i in range(register_count(point))
    ]
    words = [w for w in found if w is not None]
    if len(words) != len(found):
        return _Read(None, "unreadable")
    decoded = decode_point(point, words, order)
    value = decoded.value
    suspect = not any(words) or (point.dtype.startswith("float") and not any(_low_word(words, order)))
    if decoded.reason == "non_finite":
        return _Read(None, "not a finite number")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return _Read(None, "n/a")  # a sentinel: the device says it has no value
    correction = 0.1 if cause is Cause.SCALE_X10 else 10.0 if cause is Cause.SCALE_DIV10 else 1.0
    return _Read(float(value) * correction, None, suspect)


def _low_word(words: Sequence[int], order: Order) -> list[int]:
    """The least significant register of a value as it arrives (the last one, or the first when the
    words are swapped), with its bytes in order."""
    low = words[0] if order.swap_words else words[-1]
    return [((low & 0xFF) << 8) | (low >> 8) if order.swap_bytes else low]


@dataclass(frozen=True)
class _Read:
    value: float | None
    problem: str | None  # why there is no value: unreadable, not finite, n/a (sentinel)
    # all registers zero, or a float with nothing in its low word: what reading a gap, or half of a
    # neighbour, looks like; plausible, but weak evidence for a hypothesis
    suspect: bool = False


# --- judging ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One rule applied: `points` it looked at, whether it held, and what was seen."""

    rule: str
    points: tuple[str, ...]
    ok: bool
    detail: str
    deviation: float = 0.0  # cross-checks: relative difference of the two sides (0 = exact)


@dataclass
class Judgement:
    """The map judged as written (`cause` None) or decoded under one `cause`."""

    cause: Cause | None
    values: dict[str, tuple[float | None, float | None]]
    results: list[CheckResult]
    suspects: int = 0  # points read as all zeros, or as a float with an empty low word

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def deviation(self) -> float:
        """Sum of the cross-checks' relative differences: how exactly the values agree."""
        return sum(r.deviation for r in self.results)

    def point_results(self, name: str) -> list[CheckResult]:
        return [r for r in self.results if name in r.points]


_RANGES: dict[str, tuple[float, float, str]] = {
    "frequency": (45.0, 65.0, "45..65 Hz"),
    "power_factor": (-1.001, 1.001, "-1..1"),
    "current": (-100_000.0, 100_000.0, "|I| <= 100 kA"),
    "active_power": (-1e8, 1e8, "|P| <= 100 MW"),
    "reactive_power": (-1e8, 1e8, "|Q| <= 100 Mvar"),
    "apparent_power": (-1e8, 1e8, "|S| <= 100 MVA"),
    "pressure": (-0.5, 16.0, "-0.5..16 bar"),
    "temperature": (-50.0, 250.0, "-50..250 degC"),
    "speed": (-20_000.0, 20_000.0, "|speed| <= 20000 rpm"),
    "percent": (-100.0, 1000.0, "-100..1000 %"),
    "angle": (-360.0, 360.0, "-360..360 deg"),
    "flow": (-0.5, 1000.0, "0..1000 m3/min"),
    "hours": (0.0, 500_000.0, "0..500000 h"),
    "active_energy": (0.0, 1e11, "0..1e11 kWh"),
    "reactive_energy": (0.0, 1e11, "0..1e11 kvarh"),
    "apparent_energy": (0.0, 1e11, "0..1e11 kVAh"),
    "volume": (0.0, math.inf, ">= 0"),
    "state": (0.0, 65535.0, "a state code 0..65535"),
}
_ABSURD = 1e15  # no meter or controller value is this large
_DENORMAL = 1e-30  # a float this close to 0 (and not 0) is garbage: swapped words or bytes


def judge(profile: Profile, first: Snapshot, second: Snapshot, cause: Cause | None = None) -> Judgement:
    """Apply every rule to the profile's values decoded from both snapshots (under `cause`)."""
    values: dict[str, tuple[float | None, float | None]] = {}
    results: list[CheckResult] = []
    suspects = 0
    numeric = [p for p in profile.points if isinstance(p, NumericPoint)]
    for point in numeric:
        a, b = (_read_value(profile, point, s, cause) for s in (first, second))
        values[point.name] = (a.value, b.value)
        suspects += a.suspect and b.suspect
        results.extend(_point_rules(point, a, b, second.t - first.t))
    results.extend(_cross_rules(numeric, values, second.t - first.t))
    return Judgement(cause, values, results, suspects)


def _point_rules(point: NumericPoint, a: _Read, b: _Read, dt: float) -> Iterator[CheckResult]:
    name = (point.name,)
    problem = a.problem or b.problem
    if problem in ("unreadable", "not a finite number"):
        yield CheckResult("readable", name, False, problem)
        return
    if a.value is None or b.value is None:
        return  # the device says "not available": nothing to judge
    v1, v2 = a.value, b.value
    if any(abs(v) > _ABSURD for v in (v1, v2)):
        yield CheckResult("magnitude", name, False, f"{_fmt(v1)} is absurdly large")
        return
    if point.dtype.startswith("float") and any(0 < abs(v) < _DENORMAL for v in (v1, v2)):
        yield CheckResult("magnitude", name, False, f"{v1:.3g} is a denormal float")
        return
    if point.valid_range is not None:
        lo, hi = point.valid_range
        ok = all(lo <= v <= hi for v in (v1, v2))
        yield CheckResult("valid_range", name, ok, f"{_fmt(v1)} in [{_fmt(lo)}, {_fmt(hi)}]")
    quantity = quantity_of(point)
    if quantity is None:
        return
    yield from _range_rule(point, quantity, v1, v2)
    if point.kind is PointKind.COUNTER:
        yield from _counter_rules(point, quantity, v1, v2, dt)


def _range_rule(point: NumericPoint, q: Quantity, v1: float, v2: float) -> Iterator[CheckResult]:
    name = (point.name,)
    base = [v * q.to_base for v in (v1, v2)]
    if q.kind in ("voltage_ln", "voltage_ll"):
        if all(v == 0 for v in base):
            return  # no voltage on that phase: not a map error
        ok = all(80 <= abs(v) <= 500 or 10_000 <= abs(v) <= 40_000 for v in base)
        yield CheckResult("voltage", name, ok, f"{_fmt(base[0])} V in 80..500 V or 10..40 kV")
        return
    limits = _RANGES.get(q.kind)
    if limits is None:
        return
    lo, hi, text = limits
    if q.kind == "state":
        ok = all(lo <= v <= hi and v == int(v) for v in base)
    else:
        ok = all(lo <= v <= hi for v in base)
    yield CheckResult(q.kind, name, ok, f"{_fmt(base[0])} in {text}")


def _resolution(point: NumericPoint, value: float) -> float:
    if point.dtype == "float32":
        return abs(value) * 2.0**-22 + 1e-6
    if point.dtype == "float64":
        return abs(value) * 1e-14 + 1e-9
    return abs(point.scale)


def _counter_rules(
    point: NumericPoint, q: Quantity, v1: float, v2: float, dt: float
) -> Iterator[CheckResult]:
    name = (point.name,)
    step = _resolution(point, v2)
    yield CheckResult(
        "counter non-decreasing", name, v2 >= v1 - step / 2, f"{_fmt(v1)} -> {_fmt(v2)} {point.unit}"
    )
    if q.kind == "hours":
        limit = (1.05 * dt / 3600) / q.to_base + 2 * step
        yield CheckResult(
            "hours no faster than the clock",
            name,
            v2 - v1 <= limit,
            f"+{_fmt(v2 - v1)} {point.unit} in {dt:.1f} s",
        )


def _cross_rules(
    points: Sequence[NumericPoint], values: Mapping[str, tuple[float | None, float | None]], dt: float
) -> Iterator[CheckResult]:
    table = _Electrical(points, values)
    yield from table.phase_sums()
    yield from table.power_triangle()
    yield from table.line_voltages()
    yield from table.energy_rates(dt)
    yield from _hours_order(points, values)


def _hours_order(
    points: Sequence[NumericPoint], values: Mapping[str, tuple[float | None, float | None]]
) -> Iterator[CheckResult]:
    by_role = {p.role: p for p in points if p.role in (Role.LOADED_HOURS, Role.RUNNING_HOURS)}
    loaded, running = by_role.get(Role.LOADED_HOURS), by_role.get(Role.RUNNING_HOURS)
    if loaded is None or running is None:
        return
    lh, rh = values[loaded.name][1], values[running.name][1]
    ql, qr = quantity_of(loaded), quantity_of(running)
    if lh is None or rh is None or ql is None or qr is None:
        return
    ok = lh * ql.to_base <= rh * qr.to_base + 0.2  # two 0.1 h steps of slack
    yield CheckResult(
        "loaded hours <= running hours", (loaded.name, running.name), ok, f"{_fmt(lh)} vs {_fmt(rh)}"
    )


class _Electrical:
    """The electrical values of a meter in base units (V, A, W, var, VA), by kind and phase."""

    def __init__(
        self, points: Sequence[NumericPoint], values: Mapping[str, tuple[float | None, float | None]]
    ) -> None:
        self.by: dict[tuple[str, str], tuple[str, float, float]] = {}
        self.energy: list[tuple[NumericPoint, float, float, float]] = []
        for point in points:
            q = quantity_of(point)
            v1, v2 = values.get(point.name, (None, None))
            if q is None or v1 is None or v2 is None or not all(abs(v) <= _ABSURD for v in (v1, v2)):
                continue
            if q.kind == "active_energy" and point.kind is PointKind.COUNTER:
                self.energy.append((point, v1, v2, q.to_base))
            self.by.setdefault((q.kind, q.phase), (point.name, v1 * q.to_base, v2 * q.to_base))

    def get(self, kind: str, phase: str) -> tuple[str, float] | None:
        found = self.by.get((kind, phase))
        return None if found is None else (found[0], found[2])

    def phase_sums(self) -> Iterator[CheckResult]:
        for kind, unit in (("active_power", "W"), ("reactive_power", "var")):
            total = self.get(kind, "total")
            phases = [self.get(kind, p) for p in "123"]
            if total is None or any(p is None for p in phases):
                continue
            parts = [p for p in phases if p is not None]
            summed = sum(v for _, v in parts)
            ok = _close(total[1], summed, 0.05, 100.0)
            yield CheckResult(
                f"{kind} total = sum of phases",
                (total[0], *(n for n, _ in parts)),
                ok,
                f"{_fmt(total[1])} {unit} vs {_fmt(summed)} {unit}",
                _deviation(total[1], summed),
            )

    def _apparent(self) -> tuple[tuple[str, ...], float] | None:
        """S from voltages and currents: sum of U_LN x I per phase, or sqrt(3) x U_LL x I_avg."""
        currents = {p: self.get("current", p) for p in "123"}
        present = {p: c for p, c in currents.items() if c is not None}
        if present:
            names: list[str] = []
            total = 0.0
            for phase, (current_name, amps) in present.items():
                volts = self.get("voltage_ln", phase) or self.get("voltage_ln", "avg")
                if volts is None:
                    break
                names += [volts[0], current_name]
                total += abs(volts[1] * amps)
            else:
                return tuple(dict.fromkeys(names)), total
        line = self.get("voltage_ll", "avg") or self.get("voltage_ll", "1")
        amps_avg = self.get("current", "avg")
        if line is not None and (amps_avg is not None or len(present) == 3):
            if amps_avg is None:
                amps = sum(v for _, v in present.values()) / 3
                names = [n for n, _ in present.values()]
            else:
                amps, names = amps_avg[1], [amps_avg[0]]
            return (line[0], *names), math.sqrt(3) * abs(line[1]) * abs(amps)
        return None

    def power_triangle(self) -> Iterator[CheckResult]:
        apparent = self._apparent()
        power = self.get("active_power", "total")
        if apparent is None:
            return
        names, s_calc = apparent
        measured_s = self.get("apparent_power", "total")
        if measured_s is not None:
            ok = _close(abs(measured_s[1]), s_calc, 0.15, 100.0)
            detail = f"{_fmt(measured_s[1])} VA vs {_fmt(s_calc)} VA"
            deviation = _deviation(abs(measured_s[1]), s_calc)
            yield CheckResult("S = U x I", (measured_s[0], *names), ok, detail, deviation)
        if power is None:
            return
        pf = self.get("power_factor", "total")
        if pf is not None and abs(pf[1]) <= 1.001:
            expected = s_calc * abs(pf[1])
            ok = _close(abs(power[1]), expected, 0.15, 100.0)
            detail = f"{_fmt(power[1])} W vs U x I x PF = {_fmt(expected)} W"
            deviation = _deviation(abs(power[1]), expected)
            yield CheckResult("P = U x I x PF", (power[0], pf[0], *names), ok, detail, deviation)
        else:
            ok = abs(power[1]) <= 1.15 * s_calc + 100.0
            yield CheckResult(
                "P <= U x I", (power[0], *names), ok, f"{_fmt(power[1])} W vs U x I = {_fmt(s_calc)} VA"
            )

    def line_voltages(self) -> Iterator[CheckResult]:
        line = self.get("voltage_ll", "avg") or self.get("voltage_ll", "1")
        phase = self.get("voltage_ln", "avg") or self.get("voltage_ln", "1")
        if line is None or phase is None or line[1] == 0 or phase[1] == 0:
            return
        ok = _close(abs(line[1]), math.sqrt(3) * abs(phase[1]), 0.08, 0.0)
        yield CheckResult(
            "U_LL = sqrt(3) x U_LN",
            (line[0], phase[0]),
            ok,
            f"{_fmt(line[1])} V vs sqrt(3) x {_fmt(phase[1])} V",
            _deviation(abs(line[1]), math.sqrt(3) * abs(phase[1])),
        )

    def energy_rates(self, dt: float) -> Iterator[CheckResult]:
        found = self.by.get(("active_power", "total"))
        if found is None or dt <= 0:
            return
        peak_kw = max(abs(found[1]), abs(found[2])) / 1000
        for point, v1, v2, to_kwh in self.energy:
            limit = (2 * peak_kw + 0.1) * dt / 3600 + 2 * _resolution(point, v2) * to_kwh
            grew = (v2 - v1) * to_kwh
            yield CheckResult(
                "energy no faster than the power",
                (point.name, found[0]),
                grew <= limit,
                f"+{_fmt(grew)} kWh in {dt:.1f} s at {_fmt(peak_kw)} kW",
            )


def _close(a: float, b: float, relative: float, absolute: float) -> bool:
    return abs(a - b) <= relative * max(abs(a), abs(b)) + absolute


def _deviation(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-9)


def _fmt(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


# --- diagnosis -------------------------------------------------------------------------------------


@dataclass
class Diagnosis:
    """The map as written, every hypothesis, and the cause that explains the failures (if any)."""

    as_mapped: Judgement
    hypotheses: list[Judgement]
    likely: Judgement | None

    @property
    def passed(self) -> bool:
        return not self.as_mapped.failures


def diagnose(profile: Profile, first: Snapshot, second: Snapshot) -> Diagnosis:
    """Judge the map; when it fails, the hypothesis with the fewest failures that does better than
    the map as written is the likely cause. Ties go to the one with more checks passed, then to the
    one that reads fewer gaps (all-zero registers, floats with an empty low word), then to the one
    whose values agree more exactly. One register off and words swapped look alike on float32
    values: the high word carries the value to within 1 %, so only what fills the low word (a gap,
    a neighbour) and the exactness of the cross-checks tell them apart."""
    as_mapped = judge(profile, first, second)
    hypotheses = [judge(profile, first, second, cause) for cause in Cause]
    likely = None
    if as_mapped.failures:
        better = [h for h in hypotheses if len(h.failures) < len(as_mapped.failures) and h.passed > 0]
        if better:
            likely = min(better, key=lambda h: (len(h.failures), -h.passed, h.suspects, h.deviation))
    return Diagnosis(as_mapped, hypotheses, likely)
