"""Per-device health: what the dashboard and the agent status message show about each device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DeviceHealth", "DeviceState", "HealthSnapshot"]

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
