"""The dashboard: a FastAPI app over a `DashboardSource` (JSON API under /api/, pages, /metrics).

`create_app(HistorySource(history_path, settings, live=..., rating=...), token=...)`; serve it with
`agent.web.server.serve`. See docs/dashboard.md.
"""

from agent.web.app import PAGES, TOKEN_COOKIE, TOKEN_ENV, check_bind, create_app, is_loopback
from agent.web.history_source import HistorySource
from agent.web.source import (
    ControlLiveState,
    DashboardSettings,
    DashboardSource,
    DeviceStatus,
    LatestValue,
    LiveState,
    MetricSample,
    RatingProvider,
)

__all__ = [
    "PAGES",
    "TOKEN_COOKIE",
    "TOKEN_ENV",
    "ControlLiveState",
    "DashboardSettings",
    "DashboardSource",
    "DeviceStatus",
    "HistorySource",
    "LatestValue",
    "LiveState",
    "MetricSample",
    "RatingProvider",
    "check_bind",
    "create_app",
    "is_loopback",
]
