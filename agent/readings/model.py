"""What flows from the poller to the sinks: one `PollResult` per device poll, holding `Reading`s.

Quality travels with every value (good / stale / bad + a short machine-readable reason), so a sink or
an analyst never has to guess from the log whether a number can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["PollResult", "PollStatus", "Quality", "Reading"]

Quality = Literal["good", "stale", "bad"]
PollStatus = Literal["ok", "partial", "failed"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One point's value at one poll."""

    point: str
    value: float | int | bool | str | None
    unit: str = ""
    quality: Quality = "good"
    reason: str | None = None  # e.g. "timeout", "nan_sentinel", "counter_reset", "glitch"


@dataclass(frozen=True, slots=True)
class PollResult:
    """Everything one scheduled poll of one device produced (one MQTT telemetry message).

    `ts` is the scheduled slot (UTC epoch seconds, wall-clock aligned), not when the request happened;
    `requested_at` and `latency_ms` keep the real timing as metadata. `seq` increases by one per poll
    of the device, so a consumer can prove there are no gaps.
    """

    site: str
    device: str
    device_kind: str
    profile: str
    ts: float
    seq: int
    readings: tuple[Reading, ...]
    status: PollStatus = "ok"
    error: str | None = None
    area: str | None = None
    requested_at: float | None = None
    latency_ms: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
