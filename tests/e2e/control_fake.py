"""A live state whose compressor room is under control, shaped as the contract says
(`agent.web.source.ControlLiveState`, docs/control.md "The dashboard").

Every decision is made by the real sequencer (`agent.control.decide`, through the interlock tests'
room: minimum 6.0 bar, target 6.8 bar, band 6.6 .. 7.0 bar; machines c1, c2, v1), turned into the
control topic's message by `agent.control.payload.control_payload`, and validated against
schemas/mqtt/control.schema.json: this fake cannot drift from the contract, and a reworded reason
or alarm message reaches the tests of the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from agent.control import Command, Memory
from agent.control.payload import control_payload
from agent.web import DeviceStatus, LatestValue, MetricSample
from tests.e2e.synthetic import NOW
from tests.unit.test_control_interlocks import ROOM, run, snapshot
from tests.unit.test_control_strategy import running, stopped
from tests.unit.test_payloads import validate

SITE = "synthetic-plant"
T0 = NOW.timestamp()  # 2025-10-15 14:00 in Asia/Shanghai, the synthetic site's timezone
QUIET = {"heartbeat_timeout_s": 30.0, "load_bar": ROOM.load_bar, "unload_bar": ROOM.unload_bar}

Json = dict[str, Any]


def _message(decision: Any, failed: Sequence[Command] = ()) -> Json:
    return validate("control", control_payload(SITE, decision, failed))


def low_pressure(at: float, mode: str = "dry-run") -> Json:
    """5.8 bar < 6.0: every commandable machine started and loaded (safety), c2 at local key:
    alarms pressure_low (red) and machine_local (amber)."""
    snap = snapshot(running("c1", load_command=0), stopped("c2", remote_enabled=False), bar=5.8, demand=12.0)
    return _message(run(replace(snap, t=at), mode=mode))


def limited(at: float) -> Json:
    """6.9 bar, v1 joins: two commands sent, the rest deferred by the limit of 2 a minute; c2's
    start, deferred the cycle before, is no longer wanted (c2 is at local) and is withdrawn."""
    c1, c2 = running("c1", load_command=1, **QUIET), stopped("c2", remote_enabled=False)
    snap = snapshot(c1, c2, bar=6.9, demand=12.0)
    earlier = Memory(deferred=(Command("c2", "run_command", 1, "in the least-power combination"),))
    return _message(run(replace(snap, t=at), earlier, mode="dry-run", max_commands_per_minute=2))


def active(at: float) -> Json:
    """Mode active, v1 without writes_enabled (never written) and c1's load refused by the device."""
    snap = snapshot(running("c1", load_command=0, **QUIET), bar=6.3, demand=14.0)
    decision = run(replace(snap, t=at), writable={"c1", "c2"}, mode="active")
    refused = [c for c in decision.writes if c.point == "load_command" and c.device == "c1"]
    return _message(decision, failed=refused)


def held(at: float) -> Json:
    """The header transmitter's reading is bad: no command at all, alarm pressure_bad, pressure null."""
    return _message(run(replace(snapshot(running("c1"), bar=None, demand=5.0), t=at), mode="active"))


def room(decisions: Sequence[Json]) -> Json:
    """The room as `control_status()` lists it: the band from the config, the rest from the latest cycle."""
    latest = decisions[0]
    return {
        "room": "main",
        "minimum_bar": ROOM.minimum_bar,
        "target_bar": ROOM.target_bar,
        "band_low_bar": ROOM.load_bar,
        "band_high_bar": ROOM.unload_bar,
        "pressure_bar": latest["pressure_bar"],
        "demand_m3min": latest["demand_m3min"],
        "combination": latest["combination"],
        "alarms": latest["alarms"],
        "decisions": list(decisions),
    }


def dry_run_status() -> Json:
    """A dry-run room whose latest cycle is on low pressure; newest decision first."""
    return {"mode": "dry-run", "cycle_s": 5.0, "rooms": [room([low_pressure(T0), limited(T0 - 60)])]}


class ControlLive:
    """A `LiveState` with `control_status()`; `status` may be replaced while a page polls it."""

    def __init__(self, status: Mapping[str, Any] | None) -> None:
        self.status = status

    def device_status(self) -> Sequence[DeviceStatus]:
        return []

    def latest_values(self) -> Mapping[str, Sequence[LatestValue]]:
        return {}

    def agent_metrics(self) -> Sequence[MetricSample]:
        return []

    def control_status(self) -> Mapping[str, Any] | None:
        return self.status


class PlainLive:
    """A `LiveState` of a runtime without control: no `control_status` at all."""

    def device_status(self) -> Sequence[DeviceStatus]:
        return []

    def latest_values(self) -> Mapping[str, Sequence[LatestValue]]:
        return {}

    def agent_metrics(self) -> Sequence[MetricSample]:
        return []
