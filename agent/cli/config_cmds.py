"""`validate`, `schema`, `profiles`: check configs and show what is shipped."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.config.loader import LoadedConfig, issue_lines, load_config
from agent.config.profile import Profile
from agent.config.site import RtuOverTcpBus, SiteConfig
from agent.errors import ConfigError, ConfigIssue

__all__ = ["add_parsers"]


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a site config; print every problem with file:line")
    p.add_argument("config", type=Path)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of the site config (or of a profile)")
    p.add_argument("--profile", action="store_true", help="the device-profile schema instead")
    p.set_defaults(func=cmd_schema)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        for line in issue_lines(exc.issues):
            print(line, file=sys.stderr)
        print(f"{len(exc.issues):,} problem(s) in {args.config}", file=sys.stderr)
        return 1
    problems = _rating_file_issues(loaded)
    if problems:
        for issue in problems:
            print(issue, file=sys.stderr)
        print(f"{len(problems)} problem(s) in the rating files of {args.config}", file=sys.stderr)
        return 1
    cfg = loaded.config
    print(f"{args.config}: ok — site {cfg.site.name}, {len(cfg.buses)} bus(es), {len(cfg.devices)} device(s)")
    # Imported here: the planner is not needed to report a broken file.
    from agent.modbus.lines import line_loads

    loads = line_loads(cfg, loaded.registry.get, loaded.issue_at)
    for load in loads:
        print(f"  {load.describe()}")
    used = {d.bus for d in cfg.devices if d.enabled}
    for bus in cfg.buses:
        if isinstance(bus, RtuOverTcpBus) and bus.line_baudrate is None and bus.name in used:
            print(f"  line {bus.name}: speed unknown (set line_baudrate to have its load checked)")
    warnings = [load.issue for load in loads if load.issue is not None]
    for issue in warnings:
        print(f"warning: {issue}", file=sys.stderr)
    if warnings:
        print(f"{len(warnings)} warning(s) in {args.config}", file=sys.stderr)
    return 0


def _rating_file_issues(loaded: LoadedConfig) -> list[ConfigIssue]:
    """Problems in the rubric and site rating file the config names (each with its file:line)."""
    files = loaded.config.analytics.rating
    if files.site_file is None and files.rubric is None:
        return []
    from agent.rating.site import rating_inputs

    try:
        rating_inputs(loaded)
    except ConfigError as exc:
        return list(exc.issues)
    return []


def cmd_schema(args: argparse.Namespace) -> int:
    model: type[Profile] | type[SiteConfig] = Profile if args.profile else SiteConfig
    print(json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False))
    return 0
