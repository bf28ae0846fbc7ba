"""What the dashboard and the reports read: the `DashboardSource` protocol and its plug-in points.

The web app never touches SQLite, analytics or the runtime directly; it asks a `DashboardSource` for
plain JSON-ready dicts. `HistorySource` (agent/web/history_source.py) implements it over a
`HistoryStore`, the analytics and (optionally) the rating. The runtime plugs its live view in through
`LiveState`: device health (anything shaped like `agent.runtime.health.HealthSnapshot`), the latest
reading per point, and the agent's own counters for /metrics. Without a live state the source
derives device status from the history (last interval seen).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from agent.analytics.savings import NonRoutineAdjustment
from agent.config.analytics import AnalyticsConfig

__all__ = [
    "DashboardSettings",
    "DashboardSource",
    "DeviceStatus",
    "LatestValue",
    "LiveState",
    "MetricSample",
    "RatingProvider",
]

JsonDict = dict[str, Any]


class DeviceStatus(Protocol):
    """One device's health; `agent.runtime.health.HealthSnapshot` satisfies it."""

    @property
    def device(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def polls(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def missed_slots(self) -> int: ...
    @property
    def success_rate(self) -> float | None: ...
    @property
    def last_success(self) -> float | None: ...
    @property
    def mean_latency_ms(self) -> float | None: ...
    @property
    def last_error(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class LatestValue:
    """The last reading of one point (what the devices page lists)."""

    point: str
    value: float | int | bool | str | None
    unit: str
    quality: str
    reason: str | None
    ts: float


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One Prometheus sample: name, type, help, labels and value."""

    name: str
    value: float
    help: str
    kind: Literal["gauge", "counter"] = "gauge"
    labels: Mapping[str, str] = field(default_factory=dict)


class LiveState(Protocol):
    """The runtime's live view. Must be cheap and thread-safe: the web app calls it per request."""

    def device_status(self) -> Sequence[DeviceStatus]: ...

    def latest_values(self) -> Mapping[str, Sequence[LatestValue]]:
        """device -> its latest readings (value, unit, quality, reason)."""
        ...

    def agent_metrics(self) -> Sequence[MetricSample]:
        """Poll rate, errors, latency, outbox backlog ... exposed as-is on /metrics."""
        ...


# A rating for a local period 'YYYY' or 'YYYY-MM': the data package dict (agent.rating.build_package
# shape), or None when the site has no rating file. Kept a callable so this module does not depend
# on how the rating inputs are gathered.
RatingProvider = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class DashboardSettings:
    """Site facts the dashboard needs beyond the history itself."""

    site: str
    display_name: str = ""
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    parents: Mapping[str, str | None] = field(default_factory=dict)
    site_meter: str | None = None
    baseline_start: date | None = None
    baseline_end: date | None = None
    production_series: str = "production"
    temperature_series: str = "temperature_c"
    compressor_series: str = "{device}.{field}"
    adjustments: tuple[NonRoutineAdjustment, ...] = ()
    replay: bool = False
    """True: 'now' is the end of the history (reviewing an offline copy, the demo), not the clock."""

    @property
    def timezone(self) -> str:
        return self.analytics.timezone

    def meter_for_site(self, devices: Sequence[str]) -> str | None:
        """The configured site meter, else the first root of the meter tree, else the first device."""
        if self.site_meter is not None:
            return self.site_meter
        roots = [m for m, p in self.parents.items() if p is None and m in devices]
        if roots:
            return sorted(roots)[0]
        return devices[0] if devices else None


class DashboardSource(Protocol):
    """Everything the dashboard pages, the JSON API and the report read. All results are JSON-ready."""

    settings: DashboardSettings

    def overview(self) -> JsonDict: ...

    def devices(self) -> JsonDict: ...

    def energy(self, start: str | None, end: str | None, freq: str) -> JsonDict: ...

    def compressors(self, days: int) -> JsonDict: ...

    def savings(self, start: date | None = None, end: date | None = None) -> JsonDict: ...

    def rating(self, period: str | None = None) -> JsonDict: ...

    def metrics(self) -> list[MetricSample]: ...
