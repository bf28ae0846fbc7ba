"""Load and check a site config: every problem at once, each with file:line and field path."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.config.mv import check_mv_files
from agent.config.registry import ProfileRegistry
from agent.config.roles import check_recorded_points
from agent.config.site import WEB_TOKEN_ENV, SiteConfig, is_loopback
from agent.config.strict import coercion_issues
from agent.config.yamlsource import LoadedYaml, format_path, load_yaml, validation_issues
from agent.errors import ConfigError, ConfigIssue

__all__ = ["MAX_SHOWN_ISSUES", "LoadedConfig", "issue_lines", "load_config", "store_dir"]

MAX_SHOWN_ISSUES = 50
"""Issues printed (or logged) at most; the rest are counted. A file with 800,000 unknown keys
printed 800,000 lines, which helps no one: the first fifty show what is wrong."""


def issue_lines(issues: Sequence[ConfigIssue], limit: int = MAX_SHOWN_ISSUES) -> list[str]:
    """The first `limit` issues as text, then one line counting the rest."""
    lines = [str(issue) for issue in issues[:limit]]
    if len(issues) > limit:
        lines.append(f"... and {len(issues) - limit:,} more problem(s) not shown")
    return lines


class LoadedConfig:
    """A valid site config with its profile registry and where it came from."""

    def __init__(
        self,
        path: Path,
        config: SiteConfig,
        registry: ProfileRegistry,
        lines: Mapping[tuple[str | int, ...], int] | None = None,
    ) -> None:
        self.path = path
        self.config = config
        self.registry = registry
        self._positions = LoadedYaml(str(path), lines=dict(lines or {}))

    def issue_at(self, path: tuple[str | int, ...], message: str) -> ConfigIssue:
        """A problem (or warning) about `path` in this file, with the line it came from."""
        where = self._positions
        return ConfigIssue(where.file, where.line_of(path), format_path(path), message)


def store_dir(config: SiteConfig, config_path: Path) -> Path:
    """The local store directory; a relative path is taken from the config file's directory."""
    path = config.sinks.local_store.path
    return path if path.is_absolute() else (config_path.parent / path).resolve()


def load_config(path: Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Parse, validate and cross-check `path`. Raises ConfigError listing every issue."""
    env = os.environ if env is None else env
    loaded = load_yaml(path, env)
    if loaded.data is not None and not isinstance(loaded.data, dict):
        loaded.issue((), "the top level must be a mapping (site:, buses:, devices:, sinks:)")
    if not isinstance(loaded.data, dict):
        raise ConfigError(loaded.issues)
    data: dict[str, Any] = loaded.data
    dirs = data.get("profiles_dirs")
    registry = (
        ProfileRegistry(path.parent / d for d in dirs or () if isinstance(d, str))
        if isinstance(dirs, list)
        else ProfileRegistry()
    )
    _check_references(loaded, data, registry)
    _check_analytics(loaded, data)
    _check_control(loaded, data, registry)
    _apply_datasheets(data, registry)
    _check_web(loaded, data, env)
    for where, message in coercion_issues(SiteConfig, data):
        loaded.issue(where, message)
    check_mv_files(loaded, data, path)
    config: SiteConfig | None = None
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as exc:
        reported = {i.path for i in loaded.issues}  # a value the YAML layer refused is None here
        loaded.issues.extend(i for i in validation_issues(loaded, exc) if i.path not in reported)
    if loaded.issues:
        loaded.issues.sort(key=lambda i: (i.line or 0, i.path))
        raise ConfigError(loaded.issues)
    assert config is not None
    return LoadedConfig(path, config, registry, loaded.lines)


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _text(value: object) -> str | None:
    """A name as written, or None when it is not text (the field's own type check reports that)."""
    return value if isinstance(value, str) else None


def _check_references(loaded: LoadedYaml, data: dict[str, Any], registry: ProfileRegistry) -> None:
    """Rules that span the file. Works on the raw data so it runs even when fields are invalid."""
    buses = {_text(b.get("name")): b for _, b in _items(data, "buses")}
    buses.pop(None, None)
    for key in ("buses", "devices"):
        counts = Counter(_text(item.get("name")) for _, item in _items(data, key))
        for i, item in _items(data, key):
            name = _text(item.get("name"))
            if name is not None and counts[name] > 1:
                loaded.issue((key, i, "name"), f"duplicate {key[:-1]} name {name!r}")
    devices = {_text(d.get("name")) for _, d in _items(data, "devices")} - {None}
    site = data.get("site")
    areas_raw = site.get("areas") if isinstance(site, dict) else None
    areas = (
        {_text(a.get("name")) for a in areas_raw if isinstance(a, dict)}
        if isinstance(areas_raw, list)
        else set()
    )
    areas.discard(None)
    seen_units: dict[tuple[object, object], str] = {}
    for i, dev in _items(data, "devices"):
        bus_name = _text(dev.get("bus"))
        bus = buses.get(bus_name) if bus_name is not None else None
        if bus_name is not None and bus is None:
            loaded.issue(("devices", i, "bus"), f"unknown bus {bus_name!r} (buses: {_names(buses)})")
        _check_unit(loaded, i, dev, bus, seen_units)
        _check_profile(loaded, i, dev, registry)
        if bus is not None:
            _check_timing(loaded, i, dev, bus)
        parent = _text(dev.get("parent"))
        if parent is not None and parent not in devices:
            loaded.issue(("devices", i, "parent"), f"unknown parent meter {parent!r}")
        elif parent is not None and parent == dev.get("name"):
            loaded.issue(("devices", i, "parent"), "a meter cannot be its own parent")
        area = _text(dev.get("area"))
        if area is not None and areas and area not in areas:
            loaded.issue(("devices", i, "area"), f"unknown area {area!r} (areas: {_names(areas)})")
    _check_cycles(loaded, data)
    check_recorded_points(loaded, data, registry)


def _check_analytics(loaded: LoadedYaml, data: dict[str, Any]) -> None:
    """Analytics entries that name a device must name one of this file."""
    analytics = data.get("analytics")
    if not isinstance(analytics, dict):
        return
    devices = {_text(d.get("name")) for _, d in _items(data, "devices")} - {None}
    for i, spec in _items(analytics, "compressors"):
        name = _text(spec.get("device"))
        if name is not None and name not in devices:
            loaded.issue(
                ("analytics", "compressors", i, "device"),
                f"no device {name!r} in this file (devices: {_names(devices)})",
            )


CONTROL_POINTS = ("run_command", "load_command", "heartbeat", "heartbeat_timeout_s")
"""Writable points every sequenced machine's profile must have (docs/control.md)."""


def _check_control(loaded: LoadedYaml, data: dict[str, Any], registry: ProfileRegistry) -> None:
    """`mode: off` as YAML 1.1 reads it (false) is the mode off; every machine and pressure source
    names a device of this file, every machine's profile has the control points writable, and no
    machine is sequenced by two rooms."""
    control = data.get("control")
    if not isinstance(control, dict):
        return
    if control.get("mode") is False:
        control["mode"] = "off"
    devices = {_text(d.get("name")) for _, d in _items(data, "devices")} - {None}
    owner: dict[str, str] = {}
    for r, room in _items(control, "rooms"):
        name = _text(room.get("pressure_device"))
        if name is not None and name not in devices:
            loaded.issue(
                ("control", "rooms", r, "pressure_device"),
                f"no device {name!r} in this file (devices: {_names(devices)})",
            )
        for m, machine in _items(room, "machines"):
            name = _text(machine.get("device"))
            where = ("control", "rooms", r, "machines", m, "device")
            if name is not None and name not in devices:
                loaded.issue(where, f"no device {name!r} in this file (devices: {_names(devices)})")
            elif name is not None and (problem := _control_surface_problem(name, data, registry)):
                loaded.issue(where, problem)
            elif name is not None and name in owner and owner[name] != str(room.get("name")):
                loaded.issue(where, f"machine {name!r} is already sequenced by room {owner[name]!r}")
            if name is not None:
                owner.setdefault(name, str(room.get("name")))


def _control_surface_problem(device: str, data: dict[str, Any], registry: ProfileRegistry) -> str | None:
    profile_id = next(
        (_text(d.get("profile")) for _, d in _items(data, "devices") if d.get("name") == device)
    )
    if profile_id is None:
        return None
    try:
        profile = registry.get(profile_id)
    except (KeyError, ConfigError):
        return None  # reported at the device's profile
    writable = {p.name for p in profile.points if getattr(p, "writable", False)}
    missing = [p for p in CONTROL_POINTS if p not in writable]
    if not missing:
        return None
    return (
        f"device {device!r} (profile {profile_id}) has no writable {', '.join(missing)}: "
        "the sequencer commands a compressor controller's control surface (docs/control.md)"
    )


def _apply_datasheets(data: dict[str, Any], registry: ProfileRegistry) -> None:
    """A compressor entry without `control` / `flow_curve` takes them from its device's profile
    `datasheet` (the curve scaled by the entry's rated power and FAD); the entry's own values win."""
    analytics = data.get("analytics")
    if not isinstance(analytics, dict):
        return
    profiles = {_text(d.get("name")): _text(d.get("profile")) for _, d in _items(data, "devices")}
    for _, spec in _items(analytics, "compressors"):
        profile_id = profiles.get(_text(spec.get("device")))
        try:
            sheet = registry.get(profile_id).datasheet if profile_id else None
        except (KeyError, ConfigError):
            continue  # reported at the device's profile
        if sheet is None:
            continue
        spec.setdefault("control", sheet.control)
        power, fad = spec.get("rated_power_kw"), spec.get("rated_fad_m3_min")
        if not isinstance(power, int | float) or not isinstance(fad, int | float):
            continue  # the entry's own fields report it
        if sheet.flow_curve is None or "flow_curve" in spec or spec["control"] != sheet.control:
            continue
        spec["flow_curve"] = [[p * power, f * fad] for p, f in sheet.flow_curve]
        if sheet.curve_bar is not None:
            spec.setdefault("flow_curve_bar", sheet.curve_bar)


def _check_web(loaded: LoadedYaml, data: dict[str, Any], env: Mapping[str, str]) -> None:
    """The dashboard beyond this machine needs a token: refused here, not first at `run`."""
    web = data.get("web")
    if not isinstance(web, dict):
        return
    host = web.get("host", "127.0.0.1")
    if not isinstance(host, str) or is_loopback(host) or web.get("token") or env.get(WEB_TOKEN_ENV):
        return
    loaded.issue(
        ("web", "host"),
        f"binding the dashboard to {host} exposes the site's data: set web.token (as ${{ENV_VAR}}) "
        f"or {WEB_TOKEN_ENV}, or bind to 127.0.0.1",
    )


def _names(items: Any, shown: int = 10) -> str:
    names = sorted(str(n) for n in items if n is not None)
    if len(names) > shown:
        return ", ".join(names[:shown]) + f", ... ({len(names)} in all)"
    return ", ".join(names) if names else "none defined"


def _check_unit(
    loaded: LoadedYaml,
    i: int,
    dev: dict[str, Any],
    bus: dict[str, Any] | None,
    seen: dict[tuple[object, object], str],
) -> None:
    unit = dev.get("unit_id")
    if not isinstance(unit, int) or isinstance(unit, bool) or not 0 <= unit <= 255:
        return  # not a number or outside 0..255: the field's own bounds report it
    on_tcp = bus is not None and bus.get("type") == "tcp"
    if not 1 <= unit <= 247 and not (on_tcp and unit in (0, 255)):
        allowed = "1..247 (0 or 255 also on a tcp bus)" if on_tcp else "1..247 on a serial line"
        loaded.issue(("devices", i, "unit_id"), f"unit id {unit} is out of range: use {allowed}")
    key = (_text(dev.get("bus")), unit)
    if bus is not None and bus.get("type") != "tcp" and key in seen:
        loaded.issue(
            ("devices", i, "unit_id"), f"unit id {unit} is already used on bus {key[0]!r} by {seen[key]!r}"
        )
    seen.setdefault(key, str(dev.get("name")))


def _check_profile(loaded: LoadedYaml, i: int, dev: dict[str, Any], registry: ProfileRegistry) -> None:
    profile_id = dev.get("profile")
    if not isinstance(profile_id, str):
        return
    try:
        profile = registry.get(profile_id)
    except KeyError:
        known = ", ".join(registry.ids()) or "none found"
        loaded.issue(("devices", i, "profile"), f"unknown profile {profile_id!r} (known: {known})")
        return
    except ConfigError as exc:
        loaded.issue(("devices", i, "profile"), f"profile {profile_id!r} is invalid: {exc.issues[0]}")
        return
    names = {p.name for p in profile.points}
    points = dev.get("points")
    for j, point in enumerate(points if isinstance(points, list) else ()):
        if isinstance(point, str) and point not in names:
            loaded.issue(("devices", i, "points", j), f"profile {profile_id} has no point {point!r}")


def _check_timing(loaded: LoadedYaml, i: int, dev: dict[str, Any], bus: dict[str, Any]) -> None:
    interval, timeout = dev.get("interval_s", 15.0), bus.get("timeout_s", 1.0)
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (interval, timeout)
    ):
        return
    if interval <= timeout:
        loaded.issue(
            ("devices", i, "interval_s"),
            f"poll interval {interval} s must be longer than the bus timeout {timeout} s "
            f"(bus {bus.get('name')!r}), or one dead poll would overrun the next",
        )


def _check_cycles(loaded: LoadedYaml, data: dict[str, Any]) -> None:
    parents = {_text(d.get("name")): _text(d.get("parent")) for _, d in _items(data, "devices")}
    index = {_text(d.get("name")): i for i, d in _items(data, "devices")}
    parents.pop(None, None)
    for name in parents:
        seen, node = set(), name
        while node is not None and node not in seen:
            seen.add(node)
            node = parents.get(node)
        if node == name:
            loaded.issue(("devices", index[name], "parent"), f"meter tree has a cycle through {name!r}")
