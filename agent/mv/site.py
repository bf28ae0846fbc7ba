"""`MvSite`: what the site's M&V is made of, defined once from the site config.

Every view takes its definitions from here:

* **site energy** = the sum of the site meters, interval by interval; an interval counts only when
  every site meter has it (a missing feeder must not read as savings). The site meters are
  `analytics.site_meters` when configured, else the roots of the electricity meter tree (enabled
  devices with `carrier: electricity` and no parent);
* **production** = the history series `analytics.production.column`, in `analytics.production.unit`;
* **temperature** = the history series `temperature_c` (`agent.mv.series`);
* **baseline window** = `analytics.baseline.period_start` .. the day before `period_end` (a command
  line may override it); without a configured end, the history's first 365 days
  (`agent.analytics.windows.baseline_days`);
* **reporting window** = the day after the baseline .. today (or a window given by the caller);
* **non-routine adjustments** = `analytics.adjustments`, applied per day of their window;
* **rating files** = `analytics.rating.site_file` and `.rubric`, relative to the config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from agent.config.analytics import AnalyticsConfig
from agent.config.mv import Adjustment
from agent.config.site import Carrier, SiteConfig
from agent.mv.series import TEMPERATURE_SERIES, compressor_series

__all__ = ["MvSite", "electricity_tree", "mv_site", "resolve_path"]


@dataclass(frozen=True)
class MvSite:
    """The one definition of a site's M&V inputs (see the module docstring for each rule)."""

    site: str
    display_name: str = ""
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    parents: Mapping[str, str | None] = field(default_factory=dict)
    """The electricity meter tree: meter -> parent meter (None at the site boundary)."""
    site_meters: tuple[str, ...] = ()
    """Empty only when the config has no electricity meter: then a history with exactly one device
    takes that device as the site (an imported single-meter history)."""
    baseline_start: date | None = None
    baseline_end: date | None = None
    """Last baseline day (included); None: the history's first 365 days."""
    rating_site_file: Path | None = None
    rubric_file: Path | None = None

    @classmethod
    def of_tree(cls, site: str, parents: Mapping[str, str | None], **fields: object) -> MvSite:
        """A definition from a meter tree alone (the site meters are its roots)."""
        roots = tuple(sorted(m for m, p in parents.items() if p is None))
        return cls(site=site, parents=dict(parents), site_meters=roots, **fields)  # type: ignore[arg-type]

    @property
    def timezone(self) -> str:
        return self.analytics.timezone

    @property
    def interval_minutes(self) -> int:
        return self.analytics.interval_minutes

    @property
    def production_series(self) -> str:
        return self.analytics.production.column

    @property
    def production_unit(self) -> str:
        return self.analytics.production.unit

    @property
    def temperature_series(self) -> str:
        return TEMPERATURE_SERIES

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        return self.analytics.adjustments

    def compressor_series(self, device: str, field_name: str) -> str:
        return compressor_series(device, field_name)


def electricity_tree(config: SiteConfig) -> dict[str, str | None]:
    """Enabled electricity meters -> parent; a parent outside that set makes its child a root."""
    meters = {d.name: d.parent for d in config.devices if d.enabled and d.carrier == Carrier.ELECTRICITY}
    return {name: (parent if parent in meters else None) for name, parent in meters.items()}


def resolve_path(path: Path | None, config_path: Path | None) -> Path | None:
    """A path from the config, taken relative to the config file's folder."""
    if path is None or path.is_absolute() or config_path is None:
        return path
    return (config_path.parent / path).resolve()


def mv_site(
    config: SiteConfig,
    config_path: Path | None = None,
    *,
    baseline: tuple[date | None, date | None] = (None, None),
) -> MvSite:
    """The site's M&V definition; `baseline` (first, last day) overrides the configured window."""
    analytics = config.analytics
    options = analytics.baseline
    parents = electricity_tree(config)
    roots = tuple(sorted(m for m, p in parents.items() if p is None))
    # the config's period_end is the first reporting day; the model wants the last baseline day
    configured_end = options.period_end - timedelta(days=1) if options.period_end else None
    return MvSite(
        site=config.site.name,
        display_name=config.site.display_name,
        analytics=analytics,
        parents=parents,
        site_meters=analytics.site_meters or roots,
        baseline_start=baseline[0] or options.period_start,
        baseline_end=baseline[1] or configured_end,
        rating_site_file=resolve_path(analytics.rating.site_file, config_path),
        rubric_file=resolve_path(analytics.rating.rubric, config_path),
    )
