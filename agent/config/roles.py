"""Cross-checks of the points the live recorder reads: `analytics.production.sources` and
`analytics.temperature` must name a device of the file and a point of its profile that suits the role.

Runs on the raw YAML data (like the loader's other cross-file rules), so every problem is reported
with file:line even when other fields are invalid.
"""

from __future__ import annotations

from typing import Any

from agent.config.profile import NumericPoint, PointKind, Profile, Role
from agent.config.registry import ProfileRegistry
from agent.config.yamlsource import LoadedYaml
from agent.errors import ConfigError

__all__ = ["check_recorded_points"]

Path = tuple[str | int, ...]


def check_recorded_points(loaded: LoadedYaml, data: dict[str, Any], registry: ProfileRegistry) -> None:
    analytics = data.get("analytics")
    if not isinstance(analytics, dict):
        return
    listed = data.get("devices")
    devices = {
        d["name"]: d
        for d in (listed if isinstance(listed, list) else ())
        if isinstance(d, dict) and isinstance(d.get("name"), str)
    }
    production = analytics.get("production")
    sources = production.get("sources") if isinstance(production, dict) else None
    seen: dict[tuple[object, object], int] = {}
    for i, source in enumerate(sources if isinstance(sources, list) else ()):
        if not isinstance(source, dict):
            continue
        where: Path = ("analytics", "production", "sources", i)
        point = _check_source(loaded, where, source, devices, registry, Role.PRODUCTION, counter=True)
        if point is None:
            continue
        key = (source.get("device"), point)  # a resolved point: its device is a name (a str)
        if key in seen:
            message = f"{key[0]}.{point} is already production source {seen[key]}: it would count twice"
            loaded.issue(where, message)
        seen.setdefault(key, i)
    temperature = analytics.get("temperature")
    if isinstance(temperature, dict):
        where = ("analytics", "temperature")
        _check_source(loaded, where, temperature, devices, registry, Role.OUTDOOR_TEMPERATURE, counter=False)


def _check_source(
    loaded: LoadedYaml,
    where: Path,
    source: dict[str, Any],
    devices: dict[str, dict[str, Any]],
    registry: ProfileRegistry,
    role: Role,
    *,
    counter: bool,
) -> str | None:
    """Report what is wrong with one source; return the point it resolves to (None if it does not)."""
    name = source.get("device")
    if not isinstance(name, str):
        return None
    device = devices.get(name)
    if device is None:
        known = ", ".join(sorted(devices)) or "none defined"
        loaded.issue((*where, "device"), f"unknown device {name!r} (devices: {known})")
        return None
    profile = _profile(registry, device.get("profile"))
    if profile is None:
        return None  # the device's own profile error is reported at the device
    point = source.get("point")
    if point is None:
        found = profile.role_point(role)
        if found is None:
            loaded.issue(
                (*where, "device"),
                f"profile {profile.id} of device {name!r} has no point with role {role}: "
                "name one with `point:`",
            )
            return None
        point = found.name
    if not isinstance(point, str):
        return None
    polled = device.get("points")
    try:
        spec = profile.point(point)
    except KeyError:
        loaded.issue((*where, "point"), f"profile {profile.id} of device {name!r} has no point {point!r}")
        return None
    kind = "a counter (kind: counter)" if counter else "a gauge"
    if not isinstance(spec, NumericPoint) or (spec.kind is PointKind.COUNTER) != counter:
        loaded.issue((*where, "point"), f"{name}.{point} must be {kind} to serve as {role}")
    elif isinstance(polled, list) and point not in polled:
        loaded.issue((*where, "point"), f"device {name!r} does not poll {point!r}: add it to its `points`")
    return point


def _profile(registry: ProfileRegistry, profile_id: object) -> Profile | None:
    if not isinstance(profile_id, str):
        return None
    try:
        return registry.get(profile_id)
    except (KeyError, ConfigError):
        return None
