"""`read` and `scan`: the commissioning tools an integrator uses in front of a new meter.

`read` decodes one device through a profile (or one register given by address and type) and prints a
table with units and quality; `scan` finds which unit ids answer on a line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import TypeAdapter, ValidationError

from agent.config.loader import load_config
from agent.config.profile import Function, Order, Point, Profile
from agent.config.registry import ProfileRegistry
from agent.config.site import RtuOverTcpBus, SerialBus, TcpBus
from agent.errors import ConfigError, ConfigIssue, DeviceError, DeviceTimeout, ExceptionResponse, Unreachable

if TYPE_CHECKING:  # pymodbus loads only when a command talks to a device
    from agent.modbus.decode import Decoded

__all__ = ["add_parsers"]

AnyBus = TcpBus | RtuOverTcpBus | SerialBus


def _bus_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_argument_group("where the device is (one of)")
    where.add_argument("--host", help="Modbus TCP host")
    where.add_argument("--rtu-over-tcp", metavar="HOST", help="RTU frames through a TCP serial converter")
    where.add_argument("--serial", metavar="PORT", help="serial port, e.g. /dev/ttyUSB0")
    where.add_argument("--port", type=int, default=502, help="TCP port (default 502)")
    where.add_argument("--baud", type=int, default=9600)
    where.add_argument("--parity", choices=["N", "E", "O"], default="N")
    where.add_argument("--stopbits", type=int, choices=[1, 2], default=1)
    where.add_argument("--timeout", type=float, default=1.0, help="seconds per request")
    where.add_argument("--config", type=Path, help="a site config: take the bus from --device there")
    where.add_argument("--device", help="device name in --config")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("read", help="read and decode one device or one register")
    _bus_arguments(p)
    p.add_argument("--unit", type=int, help="unit id (default 1, or the device's in --config)")
    what = p.add_argument_group("what to read (a profile, or one register)")
    what.add_argument("--profile", help="profile id, e.g. eastron/sdm630")
    what.add_argument("--points", help="comma-separated subset of the profile's points")
    what.add_argument("--address", type=int, help="protocol address (0-based)")
    what.add_argument("--function", choices=[f.value for f in Function], default="holding")
    what.add_argument("--dtype", default="uint16", help="int16, uint16, ..., float32, float64, bool, string")
    what.add_argument("--order", choices=[o.value for o in Order], default="ABCD")
    what.add_argument("--length", type=int, default=8, help="registers of a string")
    what.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("scan", help="find which unit ids answer on a bus")
    _bus_arguments(p)
    p.add_argument("--units", default="1-247", help="range or list, e.g. 1-32 or 1,2,10")
    p.add_argument("--address", type=int, default=0, help="register to probe (any answer counts)")
    p.add_argument("--function", choices=[f.value for f in Function], default="holding")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_scan)


def _bus_from_args(args: argparse.Namespace) -> tuple[AnyBus, int | None, str | None, ProfileRegistry]:
    """The bus to talk to, the unit id and profile implied by --config/--device (if given), and the
    profiles to look ids up in: the site's `profiles_dirs` first when --config is given."""
    chosen = [x for x in (args.host, args.rtu_over_tcp, args.serial, args.config) if x]
    if len(chosen) != 1:
        raise ConfigError(
            [
                ConfigIssue(
                    "<command line>",
                    None,
                    "",
                    "give exactly one of --host, --rtu-over-tcp, --serial or --config/--device",
                )
            ]
        )
    common = {"name": "cli", "timeout_s": args.timeout, "retries": 0}
    try:
        if args.host:
            return TcpBus(type="tcp", host=args.host, port=args.port, **common), None, None, ProfileRegistry()
        if args.rtu_over_tcp:
            return (
                RtuOverTcpBus(type="rtu_over_tcp", host=args.rtu_over_tcp, port=args.port, **common),
                None,
                None,
                ProfileRegistry(),
            )
        if args.serial:
            bus = SerialBus.model_validate(
                {
                    "type": "rtu",
                    "port": args.serial,
                    "baudrate": args.baud,
                    "parity": args.parity,
                    "stopbits": args.stopbits,
                    **common,
                }
            )
            return bus, None, None, ProfileRegistry()
    except ValidationError as exc:
        raise ConfigError(
            [
                ConfigIssue("<command line>", None, ".".join(map(str, e["loc"])), e["msg"])
                for e in exc.errors(include_url=False)
            ]
        ) from None
    return _bus_from_config(args)


def _bus_from_config(args: argparse.Namespace) -> tuple[AnyBus, int | None, str | None, ProfileRegistry]:
    loaded = load_config(args.config)
    devices = {d.name: d for d in loaded.config.devices}
    if args.device not in devices:
        raise ConfigError(
            [
                ConfigIssue(
                    str(args.config),
                    None,
                    "devices",
                    f"no device {args.device!r} (devices: {', '.join(devices) or 'none'})",
                )
            ]
        )
    device = devices[args.device]
    bus = next(b for b in loaded.config.buses if b.name == device.bus)
    return bus, device.unit_id, device.profile, loaded.registry


def _adhoc_profile(args: argparse.Namespace) -> Profile:
    spec: dict[str, Any] = {
        "name": "value",
        "function": args.function,
        "address": args.address,
        "dtype": args.dtype,
    }
    if args.dtype == "string":
        spec["length"] = args.length
    elif args.dtype not in ("bool", "bits"):
        spec["scale"] = args.scale
    try:
        point = TypeAdapter(Point).validate_python(spec)
    except ValidationError as exc:
        raise ConfigError(
            [
                ConfigIssue("<command line>", None, "--dtype/--function", e["msg"])
                for e in exc.errors(include_url=False)
            ]
        ) from None
    return Profile(
        id="cli/register",
        vendor="cli",
        model="register",
        device_kind="other",
        order=Order(args.order),
        points=(point,),
    )


async def _read(bus: AnyBus, unit: int, profile: Profile, names: list[str] | None) -> dict[str, Decoded]:
    from agent.modbus.decode import decode_block
    from agent.modbus.io import ModbusLink
    from agent.modbus.plan import plan_for_profile

    try:
        blocks = plan_for_profile(profile, names)
    except ValueError as exc:
        raise ConfigError([ConfigIssue("<command line>", None, "--points", str(exc))]) from None
    values: dict[str, Decoded] = {}
    async with ModbusLink(bus) as link:
        for block in blocks:
            words = await link.read(unit, block.function, block.start, block.count)
            values.update(decode_block(block, words, profile))
    return values


def cmd_read(args: argparse.Namespace) -> int:
    from agent.modbus.io import describe_bus

    bus, unit, profile_id, registry = _bus_from_args(args)
    unit = args.unit if args.unit is not None else (unit or 1)
    if args.address is not None:
        profile = _adhoc_profile(args)
    else:
        profile_id = args.profile or profile_id
        if profile_id is None:
            raise ConfigError([ConfigIssue("<command line>", None, "", "give --profile or --address")])
        profile = _profile(registry, profile_id)
    names = [n.strip() for n in args.points.split(",")] if args.points else None
    values = asyncio.run(_read(bus, unit, profile, names))
    rows = [
        {
            "point": p.name,
            "value": values[p.name].value,
            "unit": p.unit,
            "quality": values[p.name].quality,
            "reason": values[p.name].reason,
            "function": p.function.value,
            "address": p.address,
        }
        for p in profile.points
        if p.name in values
    ]
    if args.json:
        print(
            json.dumps(
                {"bus": describe_bus(bus), "unit": unit, "profile": profile.id, "points": rows},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _print_table(rows)
    return 0


def _profile(registry: ProfileRegistry, profile_id: str, field: str = "--profile") -> Profile:
    """The registry's profile, or a ConfigError at the command line's `field` listing the known ones."""
    try:
        return registry.get(profile_id)
    except KeyError:
        known = ", ".join(registry.ids())
        raise ConfigError(
            [ConfigIssue("<command line>", None, field, f"unknown profile {profile_id!r} (known: {known})")]
        ) from None


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'point':<28} {'value':>16} {'unit':<8} {'quality':<8} {'table':<8} {'address':>7}")
    for r in rows:
        value = r["value"]
        shown = f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        quality = r["quality"] + (f" ({r['reason']})" if r["reason"] else "")
        print(
            f"{r['point']:<28} {shown:>16} {r['unit']:<8} {quality:<8} {r['function']:<8} {r['address']:>7}"
        )


def _parse_units(text: str) -> list[int]:
    units: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            units.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ConfigError(
            [ConfigIssue("<command line>", None, "--units", f"not a range or list: {text!r}")]
        ) from None
    bad = [u for u in units if not 0 <= u <= 255]
    if bad:
        raise ConfigError(
            [ConfigIssue("<command line>", None, "--units", f"unit ids must be 0..255, got {bad[0]}")]
        )
    return units


class ScanProgress:
    """Where a scan is: a redrawn bar on a terminal; on a pipe or log, one line per tenth and per find.

    A scan waits up to the timeout for every silent unit id (32 ids at 0.7 s: 22 s), so it must show
    that it is moving either way.
    """

    def __init__(self, total: int, tty: bool, out: TextIO) -> None:
        self.total, self.tty, self.out = total, tty, out
        self.step = max(1, total // 10)

    def update(self, n: int, unit: int, found: int, answered: bool) -> None:
        if self.tty:
            done = n * 30 // self.total
            bar = f"[{'#' * done}{'.' * (30 - done)}]"
            print(f"\rscanning {bar} unit {unit:>3} ({n}/{self.total}) found {found}", end="", file=self.out)
        elif answered or n % self.step == 0 or n == self.total:
            note = f": unit {unit} answers" if answered else ""
            print(f"scan: {n}/{self.total} unit ids, {found} answered{note}", file=self.out)
        self.out.flush()

    def close(self) -> None:
        if self.tty:
            print(file=self.out)


async def _scan(
    bus: AnyBus, units: list[int], function: Function, address: int, progress: ScanProgress
) -> list[dict[str, Any]]:
    from agent.modbus.io import ModbusLink

    found: list[dict[str, Any]] = []
    async with ModbusLink(bus) as link:
        for n, unit in enumerate(units, 1):
            before = len(found)
            try:
                await link.read(unit, function, address, 1)
                found.append({"unit": unit, "answer": "registers"})
            except ExceptionResponse as exc:  # it answered: the unit exists, the register does not
                found.append({"unit": unit, "answer": f"exception {exc.code}"})
            except DeviceTimeout:
                pass
            except Unreachable:
                raise
            except DeviceError:
                pass
            progress.update(n, unit, len(found), len(found) > before)
    progress.close()
    return found


def cmd_scan(args: argparse.Namespace) -> int:
    from agent.modbus.io import describe_bus

    bus, _, _, _ = _bus_from_args(args)
    units = _parse_units(args.units)
    progress = ScanProgress(len(units), sys.stderr.isatty(), sys.stderr)
    found = asyncio.run(_scan(bus, units, Function(args.function), args.address, progress))
    if args.json:
        print(json.dumps({"bus": describe_bus(bus), "scanned": len(units), "found": found}, indent=2))
    else:
        for f in found:
            print(f"unit {f['unit']:>3}: answers ({f['answer']})")
        print(f"{len(found)} of {len(units)} unit ids answered on {describe_bus(bus)}")
    return 0
