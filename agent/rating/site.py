"""The one factory of a site's rating: `site_rating_provider(loaded, history_path)`.

The rubric and the site rating file come from the site config (`analytics.rating.rubric`,
`analytics.rating.site_file`, relative to the config file), so `energy-agent rating`, the dashboard
and the rating the runtime publishes rate a period the same way by construction. The dashboard and
the runtime call this factory; the CLI builds the same inputs with `rating_inputs`.

Light to import: the analytics (pandas, numpy: ~55 MB of RSS) load on the first call that finds
energy in the history, in the caller's worker thread, so a gateway that only polls and forwards
never pays for them (docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.config.loader import LoadedConfig
from agent.mv.site import mv_site
from agent.rating.files import SiteRating, default_rubric_path, load_rubric, load_site_rating
from agent.rating.rubric import Rubric

__all__ = ["RatingCallable", "rating_inputs", "site_rating_provider"]

log = logging.getLogger(__name__)

RatingCallable = Callable[[str], Mapping[str, Any] | None]


def rating_inputs(
    loaded: LoadedConfig, *, rubric_path: Path | None = None, site_file: Path | None = None
) -> tuple[Rubric, SiteRating | None]:
    """The rubric and site rating of the config; a path given here overrides the config's.

    Raises ConfigError with file:line for a bad rubric or site rating file.
    """
    site = mv_site(loaded.config, loaded.path)
    rubric = load_rubric(rubric_path or site.rubric_file or default_rubric_path())
    file = site_file or site.rating_site_file
    return rubric, None if file is None else load_site_rating(file, rubric)


def site_rating_provider(
    loaded: LoadedConfig,
    history_path: Path,
    *,
    site_file: Path | None = None,
    cache_seconds: float = 300.0,
) -> RatingCallable:
    """period label ('2026-10', '2026') -> the rating data package, or None when there is no data.

    The rubric and site rating file are loaded here, so a bad one stops the caller at start with
    ConfigError (file:line), like a bad config; a period without site energy (or before the
    history) rates as None, not an error.
    """
    rubric, site_rating = rating_inputs(loaded, site_file=site_file)
    provide: RatingCallable | None = None

    def safe(period: str) -> Mapping[str, Any] | None:
        nonlocal provide
        if provide is None:
            from agent.history.store import has_energy

            if not has_energy(history_path):
                return None
            from agent.rating.provider import rating_provider

            provide = rating_provider(loaded, history_path, rubric, site_rating, cache_seconds=cache_seconds)
        from agent.analytics.errors import InsufficientData

        try:
            return provide(period)
        except InsufficientData as exc:
            log.info("event=rating_unavailable period=%s reason=%s", period, exc)
            return None

    return safe
