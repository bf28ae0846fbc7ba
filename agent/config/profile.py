"""Device profiles: the register map of one device model.

A profile is a YAML file `edge_configs/profiles/<vendor>/<model>.yaml`; its id is `<vendor>/<model>`.
Addresses are protocol addresses (0-based, as on the wire): register 30001 of a data sheet is input
register 0, 40001 is holding register 0. Each point is one typed value; the union on `dtype` makes
illegal combinations (a float on a coil, a string without a length) impossible to write.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agent.config.analytics import CompressorControl, check_flow_curve
from agent.config.strict import StrictModel as _Strict  # one base for every config model

__all__ = [
    "BitPoint",
    "BoolPoint",
    "CompressorDatasheet",
    "CounterSpec",
    "CrossCheck",
    "Function",
    "NumericDType",
    "NumericPoint",
    "Order",
    "Point",
    "PointKind",
    "Profile",
    "Role",
    "RoleFields",
    "StateCodes",
    "StringPoint",
    "register_count",
    "role_unit_factor",
]


class Function(StrEnum):
    """Modbus data table a point lives in (read function 1, 2, 3 or 4)."""

    COIL = "coil"
    DISCRETE = "discrete"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bit(self) -> bool:
        return self in (Function.COIL, Function.DISCRETE)

    @property
    def code(self) -> int:
        return {"coil": 1, "discrete": 2, "holding": 3, "input": 4}[self.value]


class Order(StrEnum):
    """Byte order of a multi-register value, as letters of the big-endian value ABCD (or ABCDEFGH).

    ABCD: big-endian words, big-endian bytes (Modbus standard). CDAB: word-swapped (common on meters).
    BADC: byte-swapped within each register. DCBA: fully little-endian. For 64-bit values the same
    two flags apply: word order reversed (CDAB, DCBA) and bytes swapped within a register (BADC, DCBA).
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def swap_words(self) -> bool:
        return self in (Order.CDAB, Order.DCBA)

    @property
    def swap_bytes(self) -> bool:
        return self in (Order.BADC, Order.DCBA)


class PointKind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"


NumericDType = Literal["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]

_WIDTH: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "int64": 4,
    "uint64": 4,
    "float32": 2,
    "float64": 4,
}


class CounterSpec(_Strict):
    """How a monotonically increasing counter (energy, running hours, units) behaves."""

    rollover: float | None = Field(
        default=None,
        gt=0,
        description="Engineering value at which the counter wraps to 0. Default for integer dtypes: "
        "2^bits x scale + offset; float counters have none unless the data sheet states one.",
    )
    max_rate_per_h: float | None = Field(
        default=None,
        gt=0,
        description="Largest plausible increase per hour (e.g. rated kW for a kWh counter). A larger "
        "jump within one poll is a glitch: marked bad and kept out of totals. May be overridden "
        "per device (rated power).",
    )


class Role(StrEnum):
    """What a point means to the analytics: the live recorder turns it into a history series.

    Counter roles (kind: counter) are summed from increments; gauge roles are averaged (pressure,
    temperature) or integrated over time (air flow, compressor state) per interval.
    """

    PRODUCTION = "production"  # counter: units produced (the site config converts them)
    LOADED_HOURS = "loaded_hours"  # counter: compressor hours loaded (delivering air)
    RUNNING_HOURS = "running_hours"  # counter: compressor hours running (loaded + unloaded)
    COMPRESSOR_STATE = "compressor_state"  # gauge: state code, mapped by `states`
    DISCHARGE_PRESSURE = "discharge_pressure"  # gauge: bar(g) (or kPa, MPa, psi)
    AIR_TOTAL = "air_total"  # counter: free air delivered, m3 (flow-meter totaliser)
    AIR_FLOW = "air_flow"  # gauge: free air delivery rate, m3/min (or m3/h, l/s)
    OUTDOOR_TEMPERATURE = "outdoor_temperature"  # gauge: degC
    HEADER_PRESSURE = "header_pressure"  # gauge: compressed-air header pressure, bar(g)


COUNTER_ROLES = frozenset({Role.PRODUCTION, Role.LOADED_HOURS, Role.RUNNING_HOURS, Role.AIR_TOTAL})

# The units a role's point may be in, and the factor to the recorder's unit (h, bar, m3, m3/min, degC).
# Production has none: any unit, converted by the site's `analytics.production.sources[].factor`.
_ROLE_UNITS: dict[Role, dict[str, float]] = {
    Role.LOADED_HOURS: {"h": 1.0, "min": 1 / 60, "s": 1 / 3600},
    Role.RUNNING_HOURS: {"h": 1.0, "min": 1 / 60, "s": 1 / 3600},
    Role.DISCHARGE_PRESSURE: {"bar": 1.0, "kpa": 0.01, "mpa": 10.0, "psi": 0.0689476},
    Role.HEADER_PRESSURE: {"bar": 1.0, "kpa": 0.01, "mpa": 10.0, "psi": 0.0689476},
    Role.AIR_TOTAL: {"m3": 1.0, "l": 0.001, "nm3": 1.0},
    Role.AIR_FLOW: {"m3/min": 1.0, "m3/h": 1 / 60, "l/s": 0.06, "l/min": 0.001},
    Role.OUTDOOR_TEMPERATURE: {"degc": 1.0, "°c": 1.0, "c": 1.0},
}


def role_unit_factor(role: Role, unit: str) -> float | None:
    """Factor from `unit` to the role's recorder unit; None when the unit is not one it accepts."""
    units = _ROLE_UNITS.get(role)
    if units is None:
        return 1.0
    return units.get(unit.strip().lower())


class StateCodes(_Strict):
    """Which values of a compressor state point mean loaded and unloaded (any other: off)."""

    loaded: tuple[int, ...] = Field(min_length=1, description="Codes of running loaded (delivering air).")
    unloaded: tuple[int, ...] = Field(default=(), description="Codes of running unloaded (idling).")

    @model_validator(mode="after")
    def _disjoint(self) -> StateCodes:
        if set(self.loaded) & set(self.unloaded):
            raise ValueError("a state code cannot mean both loaded and unloaded")
        return self


class RoleFields(_Strict):
    """A point's role for the live recorder (see `Role`), and the state codes of a state point."""

    role: Role | None = Field(
        default=None,
        description="What the analytics use the point for: production, loaded_hours, running_hours, "
        "compressor_state, discharge_pressure, air_total, air_flow, outdoor_temperature or "
        "header_pressure. The live "
        "recorder writes it into the history at the site's interval (docs/analytics.md).",
    )
    states: StateCodes | None = Field(
        default=None, description="role compressor_state: which codes mean loaded / unloaded."
    )


class _PointBase(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64, description="Point id (snake_case).")
    function: Function = Field(description="Data table: coil, discrete, holding or input.")
    address: int = Field(ge=0, le=65535, description="Protocol address (0-based).")
    description: str = Field(default="", description="Human description, e.g. from the data sheet.")
    unit: str = Field(default="", max_length=16, description="Engineering unit after scaling.")
    writable: bool = Field(
        default=False,
        description="The device accepts writes to this point (holding registers and coils only). "
        "Documentation of the device's control surface: the agent itself never writes.",
    )

    @model_validator(mode="after")
    def _check_writable(self) -> Self:
        if self.writable and self.function not in (Function.HOLDING, Function.COIL):
            raise ValueError(
                f"writable: {self.function} points cannot be written (only holding registers and coils)"
            )
        return self


class NumericPoint(_PointBase, RoleFields):
    """An integer or floating-point value in one to four registers."""

    dtype: NumericDType = Field(description="Register encoding.")
    order: Order | None = Field(default=None, description="Byte/word order; default: the profile's.")
    scale: float = Field(default=1.0, description="value = raw x scale + offset (never 0).")
    offset: float = Field(default=0.0, description="value = raw x scale + offset.")
    kind: PointKind = Field(default=PointKind.GAUGE, description="gauge, or counter (monotonic).")
    counter: CounterSpec | None = Field(default=None, description="Counter behaviour (kind: counter).")
    sentinels: tuple[float, ...] = Field(
        default=(),
        description="Raw values meaning 'not available' (e.g. 0xFFFF, -32768). NaN is always one.",
    )
    valid_range: tuple[float, float] | None = Field(
        default=None, description="[min, max] of a plausible scaled value; outside it is quality bad."
    )

    @field_validator("scale")
    @classmethod
    def _scale_not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("scale 0 would turn every reading into 0.0 (use 1 for raw values)")
        return value

    @model_validator(mode="after")
    def _check(self) -> NumericPoint:
        _check_fits(self.address, _WIDTH[self.dtype], self.dtype)
        if self.function.is_bit:
            raise ValueError(
                f"dtype {self.dtype} needs a register table (holding/input), not {self.function}"
            )
        if self.counter is not None and self.kind is not PointKind.COUNTER:
            raise ValueError("'counter' settings are only allowed with kind: counter")
        if self.valid_range is not None and self.valid_range[0] > self.valid_range[1]:
            raise ValueError("valid_range must be [min, max] with min <= max")
        return self

    @model_validator(mode="after")
    def _check_role(self) -> NumericPoint:
        role = self.role
        if (self.states is not None) != (role is Role.COMPRESSOR_STATE):
            raise ValueError("role compressor_state needs `states` (and only it may have them)")
        if role is None:
            return self
        if (role in COUNTER_ROLES) != (self.kind is PointKind.COUNTER):
            need = "kind: counter" if role in COUNTER_ROLES else "a gauge (not kind: counter)"
            raise ValueError(f"role {role} needs {need}")
        if role is not Role.COMPRESSOR_STATE and role_unit_factor(role, self.unit) is None:
            known = ", ".join(_ROLE_UNITS[role])
            raise ValueError(f"role {role}: unit {self.unit!r} is not one of {known}")
        return self


class BoolPoint(_PointBase):
    """A coil / discrete input, or a register that is true when non-zero."""

    dtype: Literal["bool"]


class BitPoint(_PointBase):
    """One bit of a 16-bit register (status words, alarm words)."""

    dtype: Literal["bits"]
    bit: int = Field(ge=0, le=15, description="Bit number, 0 = least significant.")

    @model_validator(mode="after")
    def _check(self) -> BitPoint:
        if self.function.is_bit:
            raise ValueError("dtype bits needs a register table (holding/input)")
        return self


class StringPoint(_PointBase):
    """ASCII text packed two characters per register (serial numbers, model names)."""

    dtype: Literal["string"]
    length: int = Field(ge=1, le=64, description="Number of registers (2 characters each).")
    swap_bytes: bool = Field(default=False, description="Characters are low byte first in a register.")

    @model_validator(mode="after")
    def _check(self) -> StringPoint:
        _check_fits(self.address, self.length, f"a {self.length}-register string")
        if self.function.is_bit:
            raise ValueError("dtype string needs a register table (holding/input)")
        return self


Point = Annotated[NumericPoint | BoolPoint | BitPoint | StringPoint, Field(discriminator="dtype")]


def register_count(point: NumericPoint | BoolPoint | BitPoint | StringPoint) -> int:
    """How many registers (or bits, for coil/discrete) the point occupies."""
    if isinstance(point, NumericPoint):
        return _WIDTH[point.dtype]
    if isinstance(point, StringPoint):
        return point.length
    return 1


def _check_fits(address: int, count: int, what: str) -> None:
    last = address + count - 1
    if last > 65535:
        raise ValueError(
            f"{what} at address {address} needs {count} registers and runs past the last one (65535)"
        )


class ForbiddenRange(_Strict):
    function: Function
    start: int = Field(ge=0, le=65535)
    end: int = Field(ge=0, le=65535, description="Inclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> ForbiddenRange:
        if self.end < self.start:
            raise ValueError(f"range {self.start}-{self.end} is reversed: start must not be after end")
        return self


class CrossCheck(_Strict):
    """Points whose address, type and scale a second public source confirms (not the maker's document)."""

    source: str = Field(min_length=1, description="The second source: project, file or page, and version.")
    points: tuple[str, ...] = Field(min_length=1, description="Names of the points that source confirms.")


class CompressorDatasheet(_Strict):
    """What a compressor model's data sheet says about following demand; the analytics use it for a
    device with this profile unless `analytics.compressors[]` sets `control` / `flow_curve` itself."""

    control: CompressorControl = Field(description="load_unload, vsd, modulating or fixed_speed.")
    flow_curve: tuple[tuple[float, float], ...] | None = Field(
        default=None,
        description="Power-to-flow points relative to rated, [[package power / rated power, FAD / rated "
        "FAD], ...] (CAGI data sheet), >= 3, both increasing, each share in 0..1.2; the analytics scale "
        "them by the machine's rated_power_kw and rated_fad_m3_min.",
    )
    curve_bar: float | None = Field(
        default=None, gt=0, le=40, description="Discharge pressure the curve was measured at, bar(g)."
    )

    @field_validator("flow_curve")
    @classmethod
    def _curve(cls, curve: tuple[tuple[float, float], ...] | None) -> tuple[tuple[float, float], ...] | None:
        if curve is None:
            return None
        if any(not 0 <= share <= 1.2 for point in curve for share in point):
            raise ValueError("flow_curve points are shares of the rated power and FAD: each within 0..1.2")
        return check_flow_curve(curve)

    @model_validator(mode="after")
    def _curve_needs_speed_control(self) -> CompressorDatasheet:
        if self.flow_curve is not None and self.control in ("load_unload", "fixed_speed"):
            raise ValueError(f"flow_curve is for vsd or modulating machines, not {self.control}")
        return self


class Profile(_Strict):
    """The register map of one device model."""

    id: str = Field(pattern=r"^[a-z0-9_-]+/[a-z0-9_.-]+$", description="'vendor/model', the file's path.")
    vendor: str
    model: str
    device_kind: Literal["power_meter", "compressor", "production_counter", "sensor", "other"] = Field(
        description="What the device is; also the InfluxDB measurement name."
    )
    description: str = ""
    source: str = Field(default="", description="Where the map comes from (data sheet, version).")
    order: Order = Field(default=Order.ABCD, description="Default byte/word order of multi-register values.")
    max_registers_per_read: int = Field(
        default=125, ge=1, le=125, description="Largest read the device accepts (registers)."
    )
    max_bits_per_read: int = Field(default=2000, ge=1, le=2000, description="Largest coil/discrete read.")
    max_gap: int = Field(
        default=32,
        ge=0,
        le=125,
        description="Largest run of unused registers the planner may read through to join two blocks.",
    )
    forbidden: tuple[ForbiddenRange, ...] = Field(
        default=(), description="Address ranges the device rejects; no read may cover them."
    )
    points: tuple[Point, ...] = Field(min_length=1)
    cross_checked: tuple[CrossCheck, ...] = Field(
        default=(),
        description="Points a second public source confirms, per source (the maker's document: `source`).",
    )
    datasheet: CompressorDatasheet | None = Field(
        default=None, description="Compressors only: control kind and power-to-flow curve of the model."
    )

    @model_validator(mode="after")
    def _cross_checked_points_exist(self) -> Profile:
        names = {p.name for p in self.points}
        for i, check in enumerate(self.cross_checked):
            unknown = [name for name in check.points if name not in names]
            if unknown:
                raise ValueError(
                    f"cross_checked[{i}] names points the profile does not have: {', '.join(unknown)}"
                )
        return self

    @field_validator("forbidden")
    @classmethod
    def _no_overlap(cls, ranges: tuple[ForbiddenRange, ...]) -> tuple[ForbiddenRange, ...]:
        for i, first in enumerate(ranges):
            for j in range(i + 1, len(ranges)):
                other = ranges[j]
                if other.function is first.function and other.start <= first.end and first.start <= other.end:
                    raise ValueError(
                        f"forbidden[{j}] ({other.function} {other.start}-{other.end}) overlaps "
                        f"forbidden[{i}] ({first.function} {first.start}-{first.end}): merge them into one"
                    )
        return ranges

    @model_validator(mode="after")
    def _check(self) -> Profile:
        seen: set[str] = set()
        for p in self.points:
            if p.name in seen:
                raise ValueError(f"duplicate point name {p.name!r}")
            seen.add(p.name)
        return self

    @field_validator("datasheet")
    @classmethod
    def _datasheet_of_a_compressor(
        cls, sheet: CompressorDatasheet | None, info: ValidationInfo
    ) -> CompressorDatasheet | None:
        kind = info.data.get("device_kind")
        if sheet is not None and kind is not None and kind != "compressor":
            raise ValueError(f"datasheet is for compressors; this profile is a {kind}")
        return sheet

    @model_validator(mode="after")
    def _one_point_per_role(self) -> Profile:
        seen: dict[Role, str] = {}
        for p in self.points:
            role = p.role if isinstance(p, NumericPoint) else None
            if role is not None and role in seen:
                raise ValueError(f"role {role} is on both {seen[role]!r} and {p.name!r}")
            if role is not None:
                seen[role] = p.name
        return self

    def role_point(self, role: Role) -> NumericPoint | None:
        """The point that has `role`, if any."""
        for p in self.points:
            if isinstance(p, NumericPoint) and p.role is role:
                return p
        return None

    def point(self, name: str) -> NumericPoint | BoolPoint | BitPoint | StringPoint:
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(name)

    def order_of(self, point: NumericPoint) -> Order:
        return point.order or self.order
