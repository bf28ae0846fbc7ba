"""A maker's register table (CSV) <-> a profile: `energy-agent profile import` / `profile export`.

Pure: text in, text out. A table has a header row naming its columns (case and spaces ignored; the
common aliases are accepted) and one row per value:

- `address` (required; also addr, register, reg, start address): decimal, `0x` or `...h` hex, or a
  3xxxx / 4xxxx reference number;
- `name` (required; parameter, point): turned into snake_case;
- `type` (required; dtype, data type, format): float32 (float, real), uint16 (word), int32 (long), ...;
- `unit`, `scale` (factor, multiplier; may be `1/100`), `offset`: value = raw x scale + offset;
- `function` (fc, function code, table, register type): 3 / holding / 4x, 4 / input / 3x, 1 / coil,
  2 / discrete;
- `kind`, `order`, `bit`, `length`, `description`, `role`: as in the profile format (docs/profiles.md).

Addresses: hex is always a protocol address; a plain decimal is `base`-numbered (0 or 1); a 5- or
6-digit number starting 0, 1, 3 or 4 is a Modicon reference (40001 = holding 0, 30073 = input 72)
when `notation` is `reference`, or `auto` and the row's function is absent or agrees with the digit.
Every problem is a ConfigIssue naming file, row (the line of the file) and column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, Literal

import yaml
from pydantic import TypeAdapter, ValidationError

from agent.config.profile import Function, NumericPoint, Point, Profile, StringPoint
from agent.errors import ConfigError, ConfigIssue

__all__ = ["AddressStyle", "Notation", "dump_profile", "export_csv", "import_csv"]

Notation = Literal["auto", "plain", "reference"]
AddressStyle = Literal["zero", "one", "hex", "reference"]

_COLUMNS = {
    "address": ("address", "addr", "register", "reg", "registeraddress", "startaddress", "start"),
    "name": ("name", "parameter", "point", "pointname"),
    "type": ("type", "dtype", "datatype", "format"),
    "unit": ("unit", "units"),
    "scale": ("scale", "factor", "multiplier", "gain"),
    "offset": ("offset",),
    "function": ("function", "fc", "functioncode", "table", "registertype"),
    "kind": ("kind",),
    "order": ("order", "byteorder", "wordorder"),
    "bit": ("bit",),
    "length": ("length", "registers", "len"),
    "description": ("description", "desc", "comment", "notes"),
    "role": ("role",),
}
_ALIASES = {alias: column for column, aliases in _COLUMNS.items() for alias in aliases}

_TYPES = {
    "float32": ("float", "float32", "real", "fp32", "f32", "ieee754", "single"),
    "float64": ("double", "float64", "f64", "lreal", "fp64"),
    "int16": ("int16", "s16", "i16", "short", "int", "signed", "sint16"),
    "uint16": ("uint16", "u16", "word", "unsigned", "ushort", "uint"),
    "int32": ("int32", "s32", "i32", "long", "dint", "sint32"),
    "uint32": ("uint32", "u32", "ulong", "dword", "udint"),
    "int64": ("int64", "s64", "i64", "lint", "longlong"),
    "uint64": ("uint64", "u64", "ulint", "ulonglong"),
    "bool": ("bool", "boolean", "bit", "coil"),
    "bits": ("bits", "bitfield"),
    "string": ("string", "str", "ascii", "char", "text"),
}
_TYPE_ALIASES = {alias: dtype for dtype, aliases in _TYPES.items() for alias in aliases}
# Modicon reference prefixes: 0xxxx coils, 1xxxx discrete inputs, 3xxxx input and 4xxxx holding registers
_PREFIX = {"0": Function.COIL, "1": Function.DISCRETE, "3": Function.INPUT, "4": Function.HOLDING}
_PREFIX_OF = {function: prefix for prefix, function in _PREFIX.items()}


def _key(text: str) -> str:
    return re.sub(r"[\s_\-/().]", "", text.strip().lower())


def _function(text: str) -> Function | None:
    value = text.strip().lower()
    code = re.fullmatch(r"(?:fc)?\s*(?:0x)?0?([1-4])", value)
    if code:
        return {"1": Function.COIL, "2": Function.DISCRETE, "3": Function.HOLDING, "4": Function.INPUT}[
            code[1]
        ]
    reference = re.fullmatch(r"([0134])x+", value)
    if reference:
        return _PREFIX[reference[1]]
    for word, function in (
        ("discrete", Function.DISCRETE),
        ("coil", Function.COIL),
        ("holding", Function.HOLDING),
        ("input", Function.INPUT),
    ):
        if word in value:
            return function
    return None


def _address(
    text: str, function: Function | None, base: int, notation: Notation
) -> tuple[int, Function | None]:
    """(protocol address, the function a reference number implies); ValueError says why not."""
    value = text.strip().lower().replace("_", "")
    hexa = re.fullmatch(r"0x([0-9a-f]+)|([0-9a-f]+)h", value)
    if hexa:
        return int(hexa[1] or hexa[2], 16), None
    if not value.isdigit():
        raise ValueError(f"{text!r} is not an address (decimal, 0x hex, ...h hex, 3xxxx/4xxxx)")
    looks_reference = len(value) in (5, 6) and value[0] in _PREFIX and int(value[1:]) >= 1
    implied = _PREFIX.get(value[0])
    if notation == "reference" or (
        notation == "auto" and looks_reference and (function is None or function is implied)
    ):
        if not looks_reference:
            raise ValueError(f"{text!r} is not a 0xxxx/1xxxx/3xxxx/4xxxx reference number")
        return int(value[1:]) - 1, implied
    address = int(value) - base
    if address < 0:
        raise ValueError(f"{text!r} is below the first register of a {base}-based table")
    return address, None


def _scale(text: str) -> float:
    value = text.strip().lower().removeprefix("x").removeprefix("*")
    return float(Fraction(value)) if "/" in value else float(value)


def _snake(text: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    if name and name[0].isdigit():
        name = "p_" + name
    return name[:64]


def import_csv(
    text: str,
    file: str,
    *,
    header: dict[str, Any],
    base: int = 0,
    notation: Notation = "auto",
    function: Function | None = None,
) -> Profile:
    """The profile a register table describes. `header` gives the profile's own fields (id, vendor,
    model, device_kind, source, order, ...); `function` is the table of rows that name none.
    Raises ConfigError with every problem found, each at file:row and column."""
    issues: list[ConfigIssue] = []
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    columns: dict[str, int] | None = None
    points: list[Any] = []
    lines: list[int] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if columns is None:
            columns = _columns(row, file, line, issues)
            if not {"address", "name", "type"} <= set(columns):
                return _fail(issues)
            continue
        cells = {column: row[i].strip() if i < len(row) else "" for column, i in columns.items()}
        point = _row(cells, file, line, issues, base=base, notation=notation, default_function=function)
        if point is None:
            continue
        if point.name in seen:
            issues.append(
                ConfigIssue(file, line, "name", f"{point.name!r} again (first at row {seen[point.name]})")
            )
            continue
        seen[point.name] = line
        points.append(point)
        lines.append(line)
    if columns is None:
        issues.append(ConfigIssue(file, None, "", "no header row (address, name, type, ...)"))
    if not points and not issues:
        issues.append(ConfigIssue(file, None, "", "no register rows"))
    if issues:
        return _fail(issues)
    try:
        return Profile.model_validate(header | {"points": points})
    except ValidationError as exc:
        return _fail(_profile_issues(exc, file, lines))


def _dialect(text: str) -> type[csv.Dialect]:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _columns(row: list[str], file: str, line: int, issues: list[ConfigIssue]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(row):
        column = _ALIASES.get(_key(cell))
        if column is not None and column not in columns:
            columns[column] = index
    missing = [c for c in ("address", "name", "type") if c not in columns]
    if missing:
        issues.append(
            ConfigIssue(
                file, line, "header", f"no column for {', '.join(missing)} (columns: {', '.join(row)})"
            )
        )
    return columns


def _row(
    cells: dict[str, str],
    file: str,
    line: int,
    issues: list[ConfigIssue],
    *,
    base: int,
    notation: Notation,
    default_function: Function | None,
) -> Any:
    before = len(issues)

    def problem(column: str, message: str) -> None:
        issues.append(ConfigIssue(file, line, column, message))

    function: Function | None = None
    if cells.get("function"):
        function = _function(cells["function"])
        if function is None:
            problem(
                "function",
                f"{cells['function']!r} is not a function (3/holding, 4/input, 1/coil, 2/discrete)",
            )
    address = 0
    try:
        address, implied = _address(cells["address"], function, base, notation)
        function = function or implied or default_function
    except ValueError as exc:
        problem("address", str(exc))
    if function is None and len(issues) == before:
        problem("function", "no function column, and the address is no 3xxxx/4xxxx reference: give one")
    dtype = _TYPE_ALIASES.get(_key(cells["type"]))
    if dtype is None:
        problem("type", f"{cells['type']!r} is not a type (float32, int16, uint32, string, ...)")
    name = _snake(cells["name"])
    if not name:
        problem("name", "empty")
    if len(issues) > before:
        return None
    spec: dict[str, Any] = {"name": name, "function": function, "address": address, "dtype": dtype}
    for column in ("unit", "description", "kind", "order", "role"):
        if cells.get(column):
            spec[column] = cells[column].upper() if column == "order" else cells[column]
    for column, parse in (("scale", _scale), ("offset", _scale), ("bit", int), ("length", int)):
        if cells.get(column):
            try:
                spec[column] = parse(cells[column])
            except (ValueError, ZeroDivisionError):
                problem(column, f"{cells[column]!r} is not a number")
    if len(issues) > before:
        return None
    if dtype in ("bool", "bits", "string"):  # an exported table fills these in for numbers only
        for column, neutral in (("scale", 1), ("offset", 0), ("kind", "gauge")):
            if spec.get(column) == neutral:
                del spec[column]
    try:
        return TypeAdapter(Point).validate_python(spec)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = [str(part) for part in err["loc"] if str(part) in spec or str(part) in _COLUMNS]
            column = {"dtype": "type"}.get(loc[-1], loc[-1]) if loc else "row"
            problem(column, err["msg"].removeprefix("Value error, "))
        return None


def _profile_issues(exc: ValidationError, file: str, lines: list[int]) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if len(loc) >= 2 and loc[0] == "points" and isinstance(loc[1], int) and loc[1] < len(lines):
            issues.append(ConfigIssue(file, lines[loc[1]], str(loc[-1]), err["msg"]))
        else:
            where = ".".join(map(str, loc)) or "profile"
            issues.append(ConfigIssue(file, None, where, err["msg"].removeprefix("Value error, ")))
    return issues


def _fail(issues: list[ConfigIssue]) -> Profile:
    raise ConfigError(issues)


# --- export ----------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    *("address", "function", "name", "type", "unit", "scale", "offset", "kind", "order"),
    *("bit", "length", "description"),
)


def _exported_address(address: int, function: Function, style: AddressStyle) -> str:
    if style == "hex":
        return f"0x{address:04X}"
    if style == "one":
        return str(address + 1)
    if style == "reference":
        number = address + 1
        return (
            f"{_PREFIX_OF[function]}{number:04d}" if number <= 9999 else f"{_PREFIX_OF[function]}{number:05d}"
        )
    return str(address)


def export_rows(profile: Profile, style: AddressStyle = "zero") -> list[dict[str, str]]:
    """The profile's register table, one row per point, every value as text."""
    rows = []
    for point in profile.points:
        row = dict.fromkeys(EXPORT_COLUMNS, "")
        row |= {
            "address": _exported_address(point.address, point.function, style),
            "function": "" if style == "reference" else point.function.value,
            "name": point.name,
            "type": point.dtype,
            "unit": point.unit,
            "description": point.description,
        }
        if isinstance(point, NumericPoint):
            row |= {
                "scale": repr(point.scale),
                "offset": repr(point.offset) if point.offset else "",
                "kind": point.kind.value,
                "order": profile.order_of(point).value,
            }
        elif isinstance(point, StringPoint):
            row["length"] = str(point.length)
        elif point.dtype == "bits":
            row["bit"] = str(point.bit)
        rows.append(row)
    return rows


def export_csv(profile: Profile, style: AddressStyle = "zero") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(profile, style))
    return out.getvalue()


# --- YAML ------------------------------------------------------------------------------------------

_HEADER_FIELDS = ("id", "vendor", "model", "device_kind", "description", "source", "order")


def dump_profile(profile: Profile, comments: Iterable[str] = ()) -> str:
    """The profile as a YAML file in the shipped files' layout: header fields, one point per line."""
    data = profile.model_dump(mode="json", exclude_defaults=True)
    lines = [f"# {c}" for c in comments]
    header = {k: data[k] for k in _HEADER_FIELDS if k in data}
    header["order"] = profile.order.value
    lines.append(yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100).rstrip())
    rest = {k: v for k, v in data.items() if k not in (*_HEADER_FIELDS, "points")}
    if rest:
        lines.append(yaml.safe_dump(rest, sort_keys=False, allow_unicode=True).rstrip())
    lines.append("points:")
    for point in data["points"]:
        flow = yaml.safe_dump(
            point, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**6
        )
        lines.append(f"  - {flow.strip()}")
    return "\n".join(lines) + "\n"
