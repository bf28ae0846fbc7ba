"""Per-device health: what the dashboard and the agent status message show about each device, and
the agent's health as `GET /health` reports it (`health_report`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["DeviceHealth", "DeviceState", "HealthSnapshot", "OutboxHealth", "health_report"]

DeviceState = Literal["starting", "online", "offline", "stopped"]


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """A copy of one device's health at one moment (safe to hand to other tasks)."""

    device: str
    state: DeviceState
    polls: int
    failures: int
    missed_slots: int
    success_rate: float | None
    last_success: float | None
    last_latency_ms: float | None
    mean_latency_ms: float | None
    consecutive_failures: int
    last_error: str | None
    next_probe: float | None


class DeviceHealth:
    """Counters a poller updates after every attempted poll."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.state: DeviceState = "starting"
        self.state_before_stop: DeviceState = "starting"  # resumed by a restarted poller (reload)
        self.polls = 0
        self.failures = 0
        self.missed_slots = 0
        self.consecutive_failures = 0
        self.last_success: float | None = None
        self.last_latency_ms: float | None = None
        self._latency_sum_ms = 0.0
        self.last_error: str | None = None
        self.next_probe: float | None = None

    def succeeded(self, ts: float, latency_ms: float) -> None:
        self.polls += 1
        self.consecutive_failures = 0
        self.last_success = ts
        self.last_latency_ms = latency_ms
        self._latency_sum_ms += latency_ms
        self.next_probe = None

    def failed(self, error: str) -> None:
        self.polls += 1
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = error

    def snapshot(self) -> HealthSnapshot:
        good = self.polls - self.failures
        return HealthSnapshot(
            device=self.device,
            state=self.state,
            polls=self.polls,
            failures=self.failures,
            missed_slots=self.missed_slots,
            success_rate=good / self.polls if self.polls else None,
            last_success=self.last_success,
            last_latency_ms=self.last_latency_ms,
            mean_latency_ms=self._latency_sum_ms / good if good else None,
            consecutive_failures=self.consecutive_failures,
            last_error=self.last_error,
            next_probe=self.next_probe,
        )


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """What /health says about the local outbox (None fields: no outbox configured)."""

    paused: bool  # acceptance paused: the outbox cannot write, polls wait in memory
    paused_s: float
    held_polls: int
    dropped_polls: int  # dropped from the full memory buffer since start
    last_error: str | None
    rows: int | None = None
    bytes_used: int | None = None
    max_bytes: int | None = None
    sink_lag_rows: dict[str, int] | None = None


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def health_report(
    site: str, devices: Sequence[HealthSnapshot], outbox: OutboxHealth | None, now: float
) -> dict[str, Any]:
    """The agent's health: `healthy` is False (HTTP 503) when the agent is not doing its job.

    Unhealthy: no device is being polled (none configured running, or the agent is stopping), every
    device is offline, or the outbox has paused acceptance (it cannot write; polls wait in memory and
    the oldest are dropped when that buffer fills). Some devices offline is `degraded`: still 200,
    since the agent keeps collecting the others and restarting it would not bring a meter back.
    """
    problems: list[str] = []
    running = [d for d in devices if d.state != "stopped"]
    offline = sorted(d.device for d in running if d.state == "offline")
    if not running:
        problems.append("no device is being polled")
    elif len(offline) == len(running):
        problems.append("every device is offline")
    if outbox is not None and outbox.paused:
        problems.append(f"the outbox cannot write (paused {outbox.paused_s:.0f} s): {outbox.last_error}")
    status = "unhealthy" if problems else "degraded" if offline else "ok"
    return {
        "status": status,
        "healthy": not problems,
        "problems": problems,
        "offline_devices": offline,
        "site": site,
        "time": _iso(now),
        "devices": {d.device: asdict(d) | {"last_success_time": _iso(d.last_success)} for d in devices},
        "outbox": None if outbox is None else asdict(outbox),
    }
