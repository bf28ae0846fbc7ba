"""`energy-agent profiles` (the library) and `energy-agent profile import|export` (register tables).

energy-agent profiles --search eastron
energy-agent profile export eastron/sdm630 > sdm630.csv
energy-agent profile import table.csv --id acme/m1 --vendor Acme --model M1 --kind power_meter
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from agent.config.loader import load_config
from agent.config.profile import Function, Order, Profile
from agent.config.registry import ProfileRegistry
from agent.errors import ConfigError, ConfigIssue

__all__ = ["add_parsers"]

# the choices of profile_table's Notation and AddressStyle; the module (csv, fractions) loads only
# when a table is imported or exported
_NOTATIONS = ("auto", "plain", "reference")
_ADDRESS_STYLES = ("zero", "one", "hex", "reference")
_KINDS = ("power_meter", "compressor", "production_counter", "sensor", "other")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("profiles", help="list the device profiles (vendor, model, kind, points, source)")
    p.add_argument("--search", metavar="TEXT", help="only profiles whose id, vendor, model or text has TEXT")
    p.add_argument("--config", type=Path, help="a site config: its profiles_dirs are listed too")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_profiles)

    profile = sub.add_parser("profile", help="turn register tables into profiles and back")
    actions = profile.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = actions.add_parser(
        "import",
        help="a maker's register table (CSV) -> a validated profile YAML",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("table", type=Path, help="CSV with a header row: address, name, type, unit, scale, ...")
    imp.add_argument("--id", help="vendor/model (default: imported/<file name>)")
    imp.add_argument("--vendor", help="maker as printed (default: from --id)")
    imp.add_argument("--model", help="model as printed (default: from --id)")
    imp.add_argument("--kind", choices=_KINDS, default="other", help="device kind (default other)")
    imp.add_argument("--source", default="", help="the maker's document: title, version, table")
    imp.add_argument("--order", choices=[o.value for o in Order], default="ABCD", help="default byte order")
    imp.add_argument(
        "--base", type=int, choices=[0, 1], default=0, help="decimal addresses count from 0 or 1"
    )
    imp.add_argument(
        "--notation",
        choices=_NOTATIONS,
        default="auto",
        help="5/6-digit 3xxxx/4xxxx numbers: reference numbers (auto: when the row's function agrees)",
    )
    imp.add_argument("--function", choices=[f.value for f in Function], help="table of rows that name none")
    imp.add_argument("--out", type=Path, help="write the YAML here (default: print it)")
    imp.set_defaults(func=cmd_import)

    exp = actions.add_parser("export", help="a profile's register table as CSV")
    exp.add_argument("profile", help="profile id, e.g. eastron/sdm630")
    exp.add_argument(
        "--addresses",
        choices=_ADDRESS_STYLES,
        default="zero",
        help="zero: 0-based decimal (default); one: 1-based; hex; reference: 3xxxx/4xxxx",
    )
    exp.add_argument("--config", type=Path, help="a site config whose profiles_dirs to search too")
    exp.add_argument("--out", type=Path, help="write the CSV here (default: print it)")
    exp.set_defaults(func=cmd_export)


def _registry(config: Path | None) -> ProfileRegistry:
    return load_config(config).registry if config else ProfileRegistry()


def _matches(profile: Profile, text: str) -> bool:
    needle = text.lower()
    hay = (
        profile.id,
        profile.vendor,
        profile.model,
        profile.device_kind,
        profile.description,
        profile.source,
    )
    return any(needle in field.lower() for field in hay)


def cmd_profiles(args: argparse.Namespace) -> int:
    registry = _registry(args.config)
    rows: list[dict[str, Any]] = []
    broken: list[ConfigIssue] = []
    for profile_id in registry.ids():
        try:
            profile = registry.get(profile_id)
        except ConfigError as exc:  # one bad file does not hide the others
            broken.extend(exc.issues[:1])
            continue
        if args.search and not _matches(profile, args.search):
            continue
        rows.append(
            {
                "id": profile.id,
                "vendor": profile.vendor,
                "model": profile.model,
                "device_kind": profile.device_kind,
                "kind": profile.device_kind,  # the key `profiles --json` had before --search
                "points": len(profile.points),
                "source": " ".join(profile.source.split()),
            }
        )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _print_profiles(rows)
    for issue in broken:
        print(f"error: {issue}", file=sys.stderr)
    return 1 if broken else 0


def _print_profiles(rows: list[dict[str, Any]]) -> None:
    widths = {
        k: max([len(k), *(len(str(r[k])) for r in rows)]) for k in ("id", "vendor", "model", "device_kind")
    }
    head = "  ".join(f"{k:<{w}}" for k, w in widths.items())
    print(f"{head}  {'points':>6}  source")
    for r in rows:
        cells = "  ".join(f"{r[k]!s:<{w}}" for k, w in widths.items())
        source = r["source"] if len(r["source"]) <= 70 else r["source"][:67] + "..."
        print(f"{cells}  {r['points']:>6}  {source}")
    print(f"{len(rows)} profile(s)")


def cmd_import(args: argparse.Namespace) -> int:
    from agent.config.profile_table import dump_profile, import_csv

    try:
        text = args.table.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(args.table), None, "", f"cannot read: {exc}")]) from None
    profile_id = args.id or f"imported/{_slug(args.table.stem)}"
    vendor, _, model = profile_id.partition("/")
    header = {
        "id": profile_id,
        "vendor": args.vendor or vendor,
        "model": args.model or model,
        "device_kind": args.kind,
        "source": args.source,
        "order": args.order,
    }
    function = Function(args.function) if args.function else None
    profile = import_csv(
        text, str(args.table), header=header, base=args.base, notation=args.notation, function=function
    )
    comment = f"Imported from {args.table.name} by `energy-agent profile import`; check it on a device"
    yaml_text = dump_profile(profile, [comment + " (`energy-agent check`)."])
    if args.out:
        args.out.write_text(yaml_text, encoding="utf-8")
        print(f"{args.out}: {profile.id}, {len(profile.points)} point(s)", file=sys.stderr)
    else:
        sys.stdout.write(yaml_text)
    return 0


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "_", text.lower()).strip("_") or "table"


def cmd_export(args: argparse.Namespace) -> int:
    from agent.cli.commission import _profile
    from agent.config.profile_table import export_csv

    profile = _profile(_registry(args.config), args.profile, field="profile")
    text = export_csv(profile, args.addresses)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
