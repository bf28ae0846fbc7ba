"""Metering coverage (GB 17167 configuration rate): the one figure the Devices page and the rating show.

Per level of the electricity meter tree (depth 0 = site boundary, 1 = secondary units, 2+ = major
equipment): installed meters over the measuring points the site's energy audit requires there
(`analytics.metering.required_points`), capped at 100 %, against the edition's target
(`analytics.metering.targets`). The figure is the worst level's share of its target, in %.

It is a configuration figure: counted from the config's meters, not from their data. Without the
required counts it is not computed (an energy-share proxy would fall whenever a sub-metered load saves
energy, the opposite of what the standard measures): `InsufficientData` names the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.analytics.errors import InsufficientData
from agent.mv.site import MvSite

__all__ = ["LEVELS", "LevelCoverage", "MeteringCoverage", "metering_coverage"]

LEVELS = ("site", "secondary_units", "major_equipment")
_DEFAULT_TARGETS = (1.0, 1.0, 0.95)


@dataclass(frozen=True, slots=True)
class LevelCoverage:
    level: str
    installed: int
    required: int
    share: float
    """installed / required, capped at 1 (1 when nothing is required)."""
    target: float

    @property
    def met(self) -> float:
        """How much of the target is met, 0..1 (a zero target is always met)."""
        return 1.0 if self.target <= 0 else min(1.0, self.share / self.target)

    @property
    def meets(self) -> bool:
        return self.met >= 1.0


@dataclass(frozen=True, slots=True)
class MeteringCoverage:
    edition: str
    levels: tuple[LevelCoverage, ...]

    @property
    def worst(self) -> LevelCoverage:
        return min(self.levels, key=lambda level: level.met)

    @property
    def rate_pct(self) -> float:
        """The rating's `metering_coverage`: the worst level's share of its target, in %."""
        return self.worst.met * 100.0

    def method(self) -> str:
        shown = ", ".join(
            f"{lv.level} {lv.installed}/{lv.required} = {lv.share:.0%} of {lv.target:.0%}"
            for lv in self.levels
        )
        return (
            f"electricity, {self.edition} configuration rate: installed meters per level / "
            f"required measuring points (site energy audit): {shown}; worst level {self.worst.level}"
        )


def metering_coverage(site: MvSite) -> MeteringCoverage:
    """The site's electricity metering coverage; InsufficientData without meters or required counts."""
    if not site.parents:
        raise InsufficientData("no electricity meters configured")
    metering = site.analytics.metering
    required = metering.required_points.get("electricity")
    if required is None:
        raise InsufficientData(
            "the measuring points GB 17167 requires are not entered (analytics.metering.required_points)"
        )
    targets = metering.targets.get("electricity", _DEFAULT_TARGETS)
    installed = meters_per_level(site.parents)
    levels = tuple(
        LevelCoverage(
            name,
            installed[i],
            required[i],
            min(1.0, installed[i] / required[i]) if required[i] > 0 else 1.0,
            targets[i],
        )
        for i, name in enumerate(LEVELS)
    )
    return MeteringCoverage(metering.edition, levels)


def meters_per_level(parents: Mapping[str, str | None]) -> tuple[int, int, int]:
    """Meters at depth 0 (site boundary), 1 (secondary units) and 2+ (equipment) of the tree."""
    counts = [0, 0, 0]
    for meter in parents:
        depth, node = 0, parents[meter]
        while node is not None and depth < 64:
            depth, node = depth + 1, parents.get(node)
        counts[min(depth, 2)] += 1
    return counts[0], counts[1], counts[2]
