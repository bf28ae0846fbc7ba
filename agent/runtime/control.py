"""The sequencer inside `energy-agent run`: one `ControlLoop` cycle every `control.cycle_s`.

`serve_site` runs `ControlRunner.run` supervised beside the pollers (`agent.runtime.supervise`): a
crash of a cycle is logged once and the loop restarted with backoff, keeping what it learned (the
heartbeat counter, the machines' run/stop times); it never stops polling or delivery.

- The room is read from the pollers' latest polls (`Agent.latest`: one read, many consumers), with
  the readings' real age in the staleness rule; what a poll plan lacks is read through the bus's
  arbiter, which also takes every write in turn (`agent.control.io`).
- Each room's decision of each cycle, heartbeat-only cycles included, goes into the outbox as one
  record (`control_record`): the `{prefix}/{site}/control` message and the InfluxDB `control` line.
  Every cycle, because the stream is the sequencer's proof of life (a gap = the agent stopped
  deciding) and the `control` series is the history of the header pressure against its band.
- `status()` is the dashboard's view (`LiveView.control_status`): per room the band, the latest
  look and the last 50 decisions that did something (a command other than the heartbeat, a
  deferred or withdrawn command, an alarm).
- The heartbeat stops when the agent hangs: the loop itself writes it, so a starved or dead loop
  writes none; a failing poller of the pressure device gives a bad pressure and a stalled one an old
  pressure, both hold the room (no write, not even the heartbeat); a cycle whose reads overrun
  `cycle_s` writes nothing (`cycle_overrun`). The machines then go back to their own band after
  their `heartbeat_timeout_s`.
- A reload that changes the `control:` section applies at the next cycle (the loop is given the new
  config: a switch to `active` clears the read-backs advise / dry-run took as written,
  `ControlLoop.shadows`); a broken file is refused by the loader (every issue at file:line) and the
  running section stays (`Agent.reload`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config.control import ControlConfig, ControlRoom
from agent.config.loader import LoadedConfig
from agent.control.io import ControlLoop
from agent.control.model import Decision
from agent.control.payload import control_payload
from agent.readings.model import PollResult, Readings
from agent.runtime.logfmt import log_event
from agent.sinks.payloads import CONTROL_KIND, CONTROL_PAYLOAD

if TYPE_CHECKING:
    from agent.runtime.app import Agent

__all__ = ["KEEP_DECISIONS", "ControlRunner", "ControlStatus", "control_record", "trivial"]

log = logging.getLogger("agent.runtime")

KEEP_DECISIONS = 50
STATE_FILE = "control-state.json"

Record = Callable[[PollResult], Awaitable[None]]

_FIELDS = (
    ("pressure_bar", "bar"),
    ("band_low_bar", "bar"),
    ("band_high_bar", "bar"),
    ("minimum_bar", "bar"),
    ("demand_m3min", "m3/min"),
    ("running", ""),
    ("commands", ""),
    ("writes", ""),
    ("alarms", ""),
    (CONTROL_PAYLOAD, ""),
)
_POINTS = tuple(name for name, _ in _FIELDS)
_UNITS = tuple(unit for _, unit in _FIELDS)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def control_record(
    site: str, decision: Decision, room: ControlRoom, payload: bytes, *, running: int, writes: int, seq: int
) -> PollResult:
    """One room's cycle as an outbox record (see `agent.sinks.payloads.CONTROL_KIND`)."""
    values: list[Any] = [
        _finite(decision.pressure_bar),
        room.load_bar,
        room.unload_bar,
        room.minimum_bar,
        _finite(decision.demand_m3min),
        running,
        sum(c.point != "heartbeat" for c in decision.commands),
        writes,
        len(decision.alarms),
        payload.decode(),
    ]
    return PollResult(
        site=site,
        device=decision.room,
        device_kind=CONTROL_KIND,
        profile=CONTROL_KIND,
        ts=decision.t,
        seq=seq,
        readings=Readings(_POINTS, values, _UNITS),
        tags={"mode": decision.mode},
    )


def trivial(decision: Decision) -> bool:
    """A cycle that only beat the heart: not kept in the dashboard's list of decisions."""
    return (
        all(c.point == "heartbeat" for c in decision.commands)
        and not decision.deferred
        and not decision.withdrawn
        and not decision.alarms
    )


class ControlStatus:
    """The sequencer's live state for the dashboard; `snapshot()` returns copies (thread-safe)."""

    def __init__(self, keep: int = KEEP_DECISIONS) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._control: ControlConfig | None = None
        self._rooms: dict[str, dict[str, Any]] = {}
        self._decisions: dict[str, deque[dict[str, Any]]] = {}

    def configure(self, control: ControlConfig) -> None:
        """The section in force (at start and after a reload); a room no longer configured goes."""
        with self._lock:
            self._control = control
            names = {room.name for room in control.rooms}
            for name in list(self._rooms):
                if name not in names:
                    del self._rooms[name]
                    del self._decisions[name]

    def add(self, decision: Decision, document: Mapping[str, Any]) -> None:
        """A room's cycle: `document` is its control message (`control_payload`, parsed)."""
        latest = {
            "pressure_bar": document["pressure_bar"],
            "demand_m3min": document["demand_m3min"],
            "combination": list(document["combination"]),
            "alarms": [dict(a) for a in document["alarms"]],
        }
        with self._lock:
            self._rooms[decision.room] = latest
            kept = self._decisions.setdefault(decision.room, deque(maxlen=self.keep))
            if not trivial(decision):
                kept.appendleft(dict(document))

    def snapshot(self) -> dict[str, Any] | None:
        """The contract's shape (docs/control.md, "The live view"); None when control is off."""
        with self._lock:
            control = self._control
            if control is None or control.mode == "off":
                return None
            rooms = []
            for room in control.rooms:
                latest = self._rooms.get(room.name, {})
                rooms.append(
                    {
                        "room": room.name,
                        "minimum_bar": room.minimum_bar,
                        "target_bar": room.target_bar,
                        "band_low_bar": room.load_bar,
                        "band_high_bar": room.unload_bar,
                        "pressure_bar": latest.get("pressure_bar"),
                        "demand_m3min": latest.get("demand_m3min"),
                        "combination": list(latest.get("combination", [])),
                        "alarms": [dict(a) for a in latest.get("alarms", [])],
                        # the documents are never changed once kept: a shallow copy of the list is enough
                        "decisions": list(self._decisions.get(room.name, ())),
                    }
                )
            return {"mode": control.mode, "cycle_s": control.cycle_s, "rooms": rooms}


class ControlRunner:
    """Runs the site's sequencer while the agent runs; `status` is what the dashboard shows."""

    def __init__(self, agent: Agent, record: Record | None = None, *, state_dir: Path | None = None) -> None:
        self.agent = agent
        self.record = record
        self.state_path = state_dir / STATE_FILE if state_dir is not None else None
        self.status = ControlStatus()
        self.loop: ControlLoop | None = None
        self.cycles = 0
        self._loaded: LoadedConfig | None = None

    async def run(self) -> None:
        """Cycle until the agent stops: on wall-clock slots of `cycle_s`, a late cycle skips the
        slots it missed (no burst of catch-up writes)."""
        clock, stopping = self.agent.clock, self.agent.stopping
        slot: float | None = None
        while not stopping.is_set():
            control = self._refresh().config.control
            if control.mode == "off":
                slot = None
                await clock.wait(1.0, stopping)  # a reload may switch it on
                continue
            now = clock.time()
            if slot is None or slot <= now - control.cycle_s:
                slot = math.ceil(now / control.cycle_s) * control.cycle_s
            await clock.wait(slot - now, stopping)
            if stopping.is_set():
                return
            await self.step()
            slot += control.cycle_s

    async def step(self) -> list[Decision]:
        """One cycle of every room, published and recorded."""
        loaded = self._refresh()
        loop = self.loop
        assert loop is not None
        loop.buses = self.agent.arbiters()
        decisions = await loop.cycle()
        failed = [r.command for r in loop.results if r.error is not None]
        accepted: dict[str, int] = {}
        for r in loop.results:
            if r.error is None:
                accepted[r.command.device] = accepted.get(r.command.device, 0) + 1
        rooms = {room.name: room for room in loaded.config.control.rooms}
        site = loaded.config.site.name
        for decision in decisions:
            payload = control_payload(site, decision, failed)
            self.status.add(decision, json.loads(payload))
            self.cycles += 1
            if self.record is None:
                continue
            room = rooms[decision.room]
            snap = loop.snapshots.get(decision.room)
            running = sum(m.running for m in snap.machines) if snap is not None else 0
            writes = sum(accepted.get(m.device, 0) for m in room.machines)
            record = control_record(
                site, decision, room, payload, running=running, writes=writes, seq=self.cycles
            )
            await self.record(record)
        return decisions

    def _refresh(self) -> LoadedConfig:
        """The loop on the config in force: built once, then given a reloaded config (keeping its
        memory: heartbeat counter, run/stop times, the demand window)."""
        loaded = self.agent.loaded
        if loaded is self._loaded:
            return loaded
        config = loaded.config
        profiles = {d.name: loaded.registry.get(d.profile) for d in config.devices}
        before = self._loaded.config.control if self._loaded is not None else None
        if self.loop is None:
            self.loop = ControlLoop(
                config=config,
                profiles=profiles,
                buses=self.agent.arbiters(),
                clock=self.agent.clock.time,
                latest=self.agent.latest,
                state_path=self.state_path,
            )
        else:
            self.loop.config, self.loop.profiles = config, profiles
        self._loaded = loaded
        self.status.configure(config.control)
        if config.control != before:
            self._announce(loaded)
        return loaded

    def _announce(self, loaded: LoadedConfig) -> None:
        control = loaded.config.control
        log_event(
            log,
            logging.INFO,
            "control_config",
            mode=control.mode,
            cycle_s=control.cycle_s,
            rooms=",".join(r.name for r in control.rooms) or None,
        )
        if control.mode == "off":
            return
        devices = {d.name: d for d in loaded.config.devices}
        for room in control.rooms:
            device = devices[room.pressure_device]
            if not device.enabled:
                detail = "not polled (enabled: false): read by the sequencer itself every cycle"
            elif device.interval_s > control.stale_after_s:
                detail = (
                    f"polled every {device.interval_s:g} s, longer than stale_after_s "
                    f"{control.stale_after_s:g} s: the room will hold on a stale pressure"
                )
            else:
                continue
            log_event(log, logging.WARNING, "control_pressure_poll", room=room.name, device=device.name,
                      detail=detail)  # fmt: skip
