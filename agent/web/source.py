"""What the dashboard and the reports read: the `DashboardSource` protocol and its plug-in points.

The web app never touches SQLite, analytics or the runtime directly; it asks a `DashboardSource` for
plain JSON-ready dicts. `HistorySource` (agent/web/history_source.py) implements it over a
`HistoryStore`, the analytics and (optionally) the rating. The runtime plugs its live view in through
`LiveState`: device health (anything shaped like `agent.runtime.health.HealthSnapshot`), the latest
reading per point, the agent's own counters for /metrics and, optionally, the compressor-room
control's status (`ControlLiveState`). Without a live state the source derives device status from
the history (last interval seen).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from agent.config.analytics import AnalyticsConfig
from agent.mv.site import MvSite

__all__ = [
    "ControlLiveState",
    "DashboardSettings",
    "DashboardSource",
    "DeviceStatus",
    "LatestValue",
    "LiveState",
    "MetricSample",
    "RatingProvider",
    "control_status",
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


class ControlLiveState(Protocol):
    """The optional part of a `LiveState`: the compressor-room control's live view.

    Kept out of `LiveState` itself so a live state without control (an older runtime, a test's
    fake) still is one; the dashboard looks the method up with `getattr` (`control_status` below).
    """

    def control_status(self) -> Mapping[str, Any] | None:
        """None: the site has no `control:` section, or its mode is off. Otherwise, JSON-ready:
        `{"mode", "cycle_s", "rooms": [{"room", "minimum_bar", "target_bar", "band_low_bar",
        "band_high_bar", "pressure_bar", "demand_m3min", "combination", "alarms", "decisions"}]}`,
        each decision the `agent.control.payload.control_payload` document, newest first, at most 50
        (docs/control.md, "The dashboard")."""
        ...


def control_status(live: object) -> JsonDict:
    """What `GET /api/control` answers: the live state's control status, or mode off with no rooms
    when there is no live state, it has no `control_status`, or that returns None."""
    method = getattr(live, "control_status", None)
    status = method() if callable(method) else None
    return {"mode": "off", "rooms": []} if status is None else dict(status)


# A rating for a local period 'YYYY' or 'YYYY-MM': the data package dict (agent.rating.build_package
# shape), or None when the site has no rating file. Kept a callable so this module does not depend
# on how the rating inputs are gathered.
RatingProvider = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class DashboardSettings:
    """What the dashboard shows: the site's M&V definition (`agent.mv.MvSite`) and how 'now' is read.

    Site meters, production and temperature series, baseline window and adjustments are the
    model's, never the dashboard's own, so the dashboard cannot disagree with the CLI or the rating.
    """

    mv: MvSite
    replay: bool = False
    """True: 'now' is the end of the history (reviewing an offline copy, the demo), not the clock."""

    @property
    def site(self) -> str:
        return self.mv.site

    @property
    def display_name(self) -> str:
        return self.mv.display_name

    @property
    def analytics(self) -> AnalyticsConfig:
        return self.mv.analytics

    @property
    def parents(self) -> Mapping[str, str | None]:
        return self.mv.parents

    @property
    def timezone(self) -> str:
        return self.mv.timezone


class DashboardSource(Protocol):
    """Everything the dashboard pages, the JSON API and the report read. All results are JSON-ready."""

    settings: DashboardSettings

    def overview(self) -> JsonDict: ...

    def devices(self) -> JsonDict: ...

    def energy(self, start: str | None, end: str | None, freq: str) -> JsonDict: ...

    def compressors(self, days: int = 7, first: date | None = None, last: date | None = None) -> JsonDict: ...

    def compressor_trace(self, hours: int) -> JsonDict: ...

    def savings(self, start: date | None = None, end: date | None = None) -> JsonDict: ...

    def rating(self, period: str | None = None) -> JsonDict: ...

    def control(self) -> JsonDict:
        """The compressor-room control's live status (`control_status`); mode off without one."""
        ...

    def metrics(self) -> list[MetricSample]: ...
