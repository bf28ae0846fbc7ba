"""Where the runtime hands its records: poll results, device status events, interval energy.

`Output` is the seam: the durable outbox implements it in production; `MemoryOutput` keeps lists for
tests; `JsonLinesOutput` writes one JSON object per line (stdout or a file) so `energy-agent run`
is useful before any sink is configured: a poll's readings are point -> {value, unit, quality, reason}.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from agent.readings.intervals import IntervalEnergy
from agent.readings.model import PollResult

__all__ = ["JsonLinesOutput", "MemoryOutput", "Output", "StatusEvent"]


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A device changed availability (MQTT retained status message)."""

    device: str
    state: Literal["online", "offline"]
    reason: str | None
    ts: float


class Output(Protocol):
    async def put(self, result: PollResult) -> None: ...

    async def status(self, event: StatusEvent) -> None: ...

    async def interval(self, record: IntervalEnergy) -> None: ...

    async def flush(self) -> None: ...


class MemoryOutput:
    """Keeps everything in lists (tests, the dashboard demo)."""

    def __init__(self) -> None:
        self.results: list[PollResult] = []
        self.events: list[StatusEvent] = []
        self.intervals: list[IntervalEnergy] = []
        self.flushes = 0

    async def put(self, result: PollResult) -> None:
        self.results.append(result)

    async def status(self, event: StatusEvent) -> None:
        self.events.append(event)

    async def interval(self, record: IntervalEnergy) -> None:
        self.intervals.append(record)

    async def flush(self) -> None:
        self.flushes += 1

    def of(self, device: str) -> list[PollResult]:
        return [r for r in self.results if r.device == device]


def _plain(value: Any) -> Any:
    """Strict JSON has no NaN or infinity: such a value is written as null (its reading says why)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _record(kind: str, obj: Any) -> str:
    return json.dumps({"type": kind, **dataclasses.asdict(obj)}, separators=(",", ":"), default=str)


def _poll_record(result: PollResult) -> str:
    """A poll as plain JSON: its fields, `time` (ISO 8601 UTC) beside `ts`, and `readings` as
    point -> {value, unit, quality, reason} in the device's point order."""
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "readings"}
    time = datetime.fromtimestamp(result.ts, UTC).isoformat().replace("+00:00", "Z")
    readings = {
        r.point: {"value": _plain(r.value), "unit": r.unit, "quality": r.quality, "reason": r.reason}
        for r in result.readings
    }
    record = {"type": "poll", **fields, "time": time, "readings": readings}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)


class JsonLinesOutput:
    """One JSON object per line with a `type` of "poll", "status" or "interval"."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._stream: IO[str] = path.open("a", encoding="utf-8") if path is not None else sys.stdout

    async def put(self, result: PollResult) -> None:
        self._stream.write(_poll_record(result) + "\n")

    async def status(self, event: StatusEvent) -> None:
        self._stream.write(_record("status", event) + "\n")

    async def interval(self, record: IntervalEnergy) -> None:
        self._stream.write(_record("interval", record) + "\n")

    async def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()
        if self.path is not None:
            self._stream.close()
