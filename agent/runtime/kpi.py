"""Publish each closed local day's KPIs once on `{prefix}/{site}/kpi` (`agent.mv.kpi` computes them).

`serve_site` runs `KpiPublisher.step` every few minutes under supervision: when the site's local day
has turned, the day just closed is computed in a worker thread from the history store and sent (QoS 1,
not retained). A day is marked sent only when the broker acknowledged it; a day without any site
energy is not sent. Like the rating, the analytics (pandas) load only once the history holds energy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from agent.config.loader import LoadedConfig

if TYPE_CHECKING:
    from agent.mv.kpi import DayKpis
    from agent.mv.model import MvModel

__all__ = ["KpiPublisher", "KpiSink"]

log = logging.getLogger("agent.runtime")


class KpiSink(Protocol):
    async def publish_kpi(
        self, ts: float, period: str, values: Mapping[str, tuple[float | None, str]]
    ) -> bool: ...


class KpiPublisher:
    def __init__(
        self,
        loaded: LoadedConfig,
        history_path: Path,
        sink: KpiSink,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.loaded = loaded
        self.history_path = history_path
        self.sink = sink
        self.clock = clock or (lambda: datetime.now().astimezone())
        self.zone = ZoneInfo(loaded.config.analytics.timezone)
        self.last_sent: date | None = None
        self._model: MvModel | None = None

    async def step(self) -> None:
        """Send the KPIs of the local day that closed last, unless already sent."""
        now = self.clock()
        today = now.astimezone(self.zone).date()
        day = today - timedelta(days=1)
        if self.last_sent == day:
            return
        kpis = await asyncio.to_thread(self.compute, day, today)
        if kpis is None or not kpis.has_energy:
            return
        if await self.sink.publish_kpi(now.timestamp(), kpis.period, kpis.values):
            self.last_sent = day
            log.info("event=kpi_published period=%s", kpis.period)

    def compute(self, day: date, today: date) -> DayKpis | None:
        """The day's KPIs from the history; None while the history holds no energy at all."""
        from agent.history.store import has_energy

        if not has_energy(self.history_path):
            return None
        from agent.mv.kpi import day_kpis

        return day_kpis(self._site_model(), day, today)

    def _site_model(self) -> MvModel:
        if self._model is None:
            from agent.mv.model import MvModel
            from agent.mv.site import mv_site

            self._model = MvModel(mv_site(self.loaded.config, self.loaded.path), self.history_path)
        return self._model
