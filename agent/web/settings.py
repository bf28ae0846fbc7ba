"""Dashboard settings from a site config: one place, used by `run`, `demo`, `dashboard` and `report`."""

from __future__ import annotations

from datetime import date, timedelta

from agent.config.site import Carrier, SiteConfig
from agent.web.source import DashboardSettings

__all__ = ["settings_for"]


def settings_for(
    config: SiteConfig,
    *,
    baseline: tuple[date | None, date | None] = (None, None),
    replay: bool = False,
) -> DashboardSettings:
    """The site's dashboard settings; a baseline given here overrides the config's baseline period."""
    options = config.analytics.baseline
    start = baseline[0] or options.period_start
    # The config's period_end is the first reporting day; the dashboard wants the last baseline day.
    end = baseline[1] or (options.period_end - timedelta(days=1) if options.period_end else None)
    parents = {d.name: d.parent for d in config.devices if d.carrier == Carrier.ELECTRICITY}
    return DashboardSettings(
        site=config.site.name,
        display_name=config.site.display_name,
        analytics=config.analytics,
        parents=parents,
        baseline_start=start,
        baseline_end=end,
        replay=replay,
    )
