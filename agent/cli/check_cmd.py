"""`energy-agent check`: is the profile's map right for the device it is pointed at?

Reads every point of the device's profile twice, `--interval` seconds apart, judges the values
(agent/modbus/plausibility.py) and, when they look wrong, names the likely cause. Exit 0 when the
map passes, 1 when it looks wrong (or the command line / config is wrong), 2 when the device cannot
be reached.

    energy-agent check site.yaml --device main_meter
    energy-agent check --host 10.0.0.5 --unit 3 --profile eastron/sdm630 --interval 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.commission import _bus_arguments, _bus_from_args, _profile
from agent.config.profile import NumericPoint, Profile
from agent.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:  # pymodbus loads only when a command talks to a device
    from agent.modbus.plausibility import Diagnosis, Judgement

__all__ = ["add_parsers"]


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="read a device twice and judge whether its profile's map is right",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "site", nargs="?", type=Path, help="site config (same as --config); take the device from --device"
    )
    _bus_arguments(p)
    p.add_argument("--unit", type=int, help="unit id (default 1, or the device's in the site config)")
    p.add_argument("--profile", help="profile id (default: the device's in the site config)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between the two reads (default 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from agent.modbus.io import ModbusLink, describe_bus
    from agent.modbus.snapshot import check_device

    if args.site:
        if args.config:
            raise _usage("--config", "give the site config once (positional or --config)")
        args.config = args.site
    if args.config and not args.device:
        raise _usage("--device", "name the device of the site config to check")
    if args.interval < 0:
        raise _usage("--interval", "must not be negative")
    bus, unit, profile_id, registry = _bus_from_args(args)
    unit = args.unit if args.unit is not None else (unit or 1)
    profile_id = args.profile or profile_id
    if profile_id is None:
        raise _usage("--profile", "give --profile (or a site config and --device)")
    profile = _profile(registry, profile_id)

    async def run() -> Diagnosis:
        async with ModbusLink(bus) as link:
            return await check_device(link, unit, profile, args.interval)

    diagnosis = asyncio.run(run())
    where = f"{describe_bus(bus)} unit {unit}"
    if args.json:
        print(json.dumps(_as_json(profile, where, diagnosis), ensure_ascii=False, indent=2))
    else:
        print(report(profile, where, diagnosis, args.interval))
    return 0 if diagnosis.passed else 1


def _usage(field: str, message: str) -> ConfigError:
    return ConfigError([ConfigIssue("<command line>", None, field, message)])


def _cause_name(judgement: Judgement | None) -> str:
    return "as mapped" if judgement is None or judgement.cause is None else judgement.cause.value


def _shown(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 1e-3 <= abs(value) < 1e9:
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


def _verdict(judgement: Judgement, name: str) -> str:
    own = [r for r in judgement.point_results(name) if r.points == (name,)]
    failed = [r for r in own if not r.ok]
    if failed:
        return "FAIL " + "; ".join(f"{r.rule}: {r.detail}" for r in failed)
    return "ok" if own else "-"


def report(profile: Profile, where: str, diagnosis: Diagnosis, interval_s: float) -> str:
    """The check as a plain-text table: points, cross-checks, verdict and likely cause."""
    mapped, likely = diagnosis.as_mapped, diagnosis.likely
    lines = [f"check {profile.id} on {where}: two reads {interval_s:g} s apart", ""]
    header = f"{'point':<30} {'table':<8} {'address':>7} {'read 1':>14} {'read 2':>14} {'unit':<6}"
    if likely is not None:
        header += f" {'if ' + _cause_name(likely):>18}"
    lines.append(header + "  verdict")
    for point in profile.points:
        if not isinstance(point, NumericPoint):
            continue
        first, second = mapped.values[point.name]
        row = (
            f"{point.name:<30} {point.function.value:<8} {point.address:>7} {_shown(first):>14} "
            f"{_shown(second):>14} {point.unit:<6}"
        )
        if likely is not None:
            row += f" {_shown(likely.values[point.name][1]):>18}"
        lines.append(row + "  " + _verdict(mapped, point.name))
    cross = [r for r in mapped.results if len(r.points) > 1]
    if cross:
        lines += ["", "cross-checks:"]
        lines += [f"  {'ok  ' if r.ok else 'FAIL'} {r.rule}: {r.detail}" for r in cross]
    failures = mapped.failures
    lines.append("")
    if not mapped.results:
        lines.append("PASS: nothing to judge (no point has a rule: codes, words, bits)")
    elif not failures:
        lines.append(f"PASS: all {len(mapped.results)} checks hold")
        return "\n".join(lines)
    lines.append(f"FAIL: {len(failures)} of {len(mapped.results)} checks fail: the map looks wrong")
    if likely is not None and likely.cause is not None:
        rest = f" ({len(likely.failures)} still fail)" if likely.failures else ""
        lines.append(f"likely cause: {likely.cause.value}{rest}: {likely.cause.advice}")
    else:
        lines.append("likely cause: none of word/byte order, scale x10 or /10, address +-1, function code")
    others = ", ".join(f"{_cause_name(h)} {len(h.failures)}" for h in diagnosis.hypotheses if h is not likely)
    lines.append(f"failures under the other hypotheses: {others}")
    return "\n".join(lines)


def _as_json(profile: Profile, where: str, diagnosis: Diagnosis) -> dict[str, Any]:
    mapped, likely = diagnosis.as_mapped, diagnosis.likely
    return {
        "profile": profile.id,
        "device": where,
        "passed": diagnosis.passed,
        "likely_cause": None if likely is None or likely.cause is None else likely.cause.value,
        "advice": None if likely is None or likely.cause is None else likely.cause.advice,
        "points": [
            {
                "point": name,
                "read_1": first,
                "read_2": second,
                "verdict": _verdict(mapped, name),
            }
            for name, (first, second) in mapped.values.items()
        ],
        "checks": [
            {"rule": r.rule, "points": list(r.points), "ok": r.ok, "detail": r.detail} for r in mapped.results
        ],
        "hypotheses": {_cause_name(h): len(h.failures) for h in diagnosis.hypotheses},
    }
