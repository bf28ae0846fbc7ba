"""Dashboard settings from a site config: one place, used by `run`, `demo`, `dashboard` and `report`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from agent.config.site import SiteConfig
from agent.mv.site import mv_site
from agent.web.source import DashboardSettings

__all__ = ["settings_for"]


def settings_for(
    config: SiteConfig,
    *,
    baseline: tuple[date | None, date | None] = (None, None),
    replay: bool = False,
    config_path: Path | None = None,
) -> DashboardSettings:
    """The site's dashboard settings; a baseline given here overrides the config's baseline period."""
    return DashboardSettings(mv_site(config, config_path, baseline=baseline), replay=replay)
