"""A compressor room's days under the machines' own cascade, or under the agent's `active` control.

The proof of issue 19 on the simulator (bench/control_week.py, docs/control.md "The proof on the
simulator"). Each `Member` (a span of consecutive days in one mode) is one room of an `AirRoom` batch,
stepped at the scenario's `air.dt_s` (1 s; at most 1) through its days' process demand, second by
second (`simulators.airdemand.day_process_demand` of each day, one after the other: shifts, breaks,
nights, weekend, machine groups switching, noise), after one 15-minute warm-up at the span's start
(the offline history's, `physics.run_day`). The span is one continuous run: the machines' states,
run-on timers and starts, the receiver's pressure and the agent's memory carry across midnight; the
output is one `DayRun` of per-minute counters per day.

- `cascade`: nobody writes; every machine runs on its own pressure band (the scenario's `band_bar`);
- `active`: every `control.cycle_s` the agent's own `agent.control.decide` gets a `RoomSnapshot` built
  from what the controllers and the header transmitter report, the way `ControlLoop` builds it (the
  state, remote key, control source, starts, running hours, air and read-backs each quantised by its
  profile point's scale; the header pressure with the transmitter's noise and 0.01 bar steps; run and
  stop times from the state changes it sees; the demand from `strategy.track_demand`), and its
  `writes` go through the profile's encoding (`agent.control.io.register_write`) into the engine's
  `AirRoom.write`, the path a Modbus write takes in the simulated controller.

The same days in both modes see the same demand, second by second, so the air delivered to the process
is equal by construction and the leak air (which falls with the pressure) is reported apart.
Pure computation: no sockets, no asyncio, no clock.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from agent.config.control import ControlRoom
from agent.config.profile import NumericPoint, Profile
from agent.config.registry import ProfileRegistry
from agent.config.site import SiteConfig
from agent.control.decide import decide, writable_devices
from agent.control.io import register_write
from agent.control.model import Decision, MachineSnapshot, MachineState, Memory, Pressure, RoomSnapshot
from agent.control.strategy import Sample, track_demand
from agent.history.importer import SITE_ENERGY_COLUMN
from simulators.airdemand import day_process_demand
from simulators.airroom import LOADED, OFF, STARTING, TRIPPED, UNLOADED, AirRoom
from simulators.controls import CONTROL_OF_POINT
from simulators.physics import WARMUP_S, build_room, day_production
from simulators.scenario import Scenario

__all__ = ["ACTIVE", "CASCADE", "DayRun", "Member", "history_frame", "run_days"]

CASCADE, ACTIVE = "cascade", "active"
TRANSMITTER_NOISE_BAR = 0.01  # standard deviation of the header transmitter's reading
RECORD_S = 60  # the engine's counters are kept every minute (starts per rolling hour, the 15-min history)
_STATE_OF_MODE = {OFF: 0, STARTING: 1, UNLOADED: 1, LOADED: 2, TRIPPED: 3}

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Member:
    """A span of `days` consecutive days from scenario day `day`, run continuously in one mode."""

    day: int  # scenario day index of the span's first day
    mode: str  # cascade | active
    days: int = 1


@dataclass
class DayRun:
    """One simulated day of a member's span: per-minute counters of each machine ([1440, M]) and of
    the room ([1440]; fewer minutes when the span starts or ends within the day)."""

    member: Member  # the span this day belongs to
    day: int  # scenario day index
    t0: float  # epoch seconds of the day's local midnight
    first_s: int  # the second of the day of the arrays' first minute (0 unless the span starts later)
    machines: tuple[str, ...]
    energy_kwh: FloatArray
    air_m3: FloatArray
    starts: FloatArray
    loaded_s: FloatArray
    running_s: FloatArray
    process_m3: FloatArray
    leak_m3: FloatArray
    pressure_min_bar: FloatArray
    pressure_mean_bar: FloatArray
    units: FloatArray  # production counted per minute
    temperature_c: FloatArray
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)  # accepted (device, point)
    refused: Counter[str] = field(default_factory=Counter)  # device -> refused writes
    alarms: Counter[str] = field(default_factory=Counter)  # alarm code -> cycles it was raised
    decisions: int = 0
    agent_s: float = 0.0  # CPU seconds spent building snapshots, deciding and writing

    @property
    def start(self) -> float:
        """Epoch seconds of the arrays' first minute."""
        return self.t0 + self.first_s

    @property
    def kwh(self) -> float:
        return float(self.energy_kwh.sum())

    def max_starts_per_hour(self) -> dict[str, int]:
        """Per machine, the most starts in any 60 consecutive minutes of the day."""
        cumulative = np.vstack([np.zeros(self.starts.shape[1]), np.cumsum(self.starts, axis=0)])
        window = cumulative[60:] - cumulative[:-60]
        return {name: round(window[:, m].max()) for m, name in enumerate(self.machines)}


def _quantum(profile: Profile, name: str) -> tuple[float, float] | None:
    """(scale, offset) of a numeric point; None when the profile has no such point."""
    point = next((p for p in profile.points if p.name == name), None)
    return (point.scale, point.offset) if isinstance(point, NumericPoint) else None


def _q(value: float, quantum: tuple[float, float] | None) -> float | None:
    """A value as its register carries it (raw = round((value - offset) / scale)), decoded again;
    None when the profile has no such point (what `ControlLoop` reads then)."""
    if quantum is None:
        return None
    scale, offset = quantum
    return round((value - offset) / scale) * scale + offset


class _Agent:
    """The agent's side of one `active` room of the batch: what `ControlLoop` keeps between cycles."""

    def __init__(
        self, site: SiteConfig, room: ControlRoom, profiles: dict[str, Profile], index: dict[str, int]
    ) -> None:
        self.site, self.room, self.profiles, self.index = site, room, profiles, index
        self.writable = writable_devices(site)
        self.memory = Memory()
        self.samples: tuple[Sample, ...] = ()
        self.since: dict[str, tuple[bool, float]] = {}  # device -> (running, since when)
        pressure_profile = profiles[room.pressure_device]
        self.pressure_q = _quantum(pressure_profile, room.pressure_point)
        self.quanta = {
            m.device: {
                name: _quantum(profiles[m.device], name)
                for name in (
                    "running_hours_h",
                    "load_pressure_setpoint_bar",
                    "unload_pressure_setpoint_bar",
                    "target_pressure_setpoint_bar",
                )
            }
            for m in room.machines
        }

    def snapshot(
        self, engine: AirRoom, b: int, t: float, bar: float, looks: dict[str, FloatArray]
    ) -> RoomSnapshot:
        c = engine.controls
        machines = []
        for m in self.room.machines:
            i, q = self.index[m.device], self.quanta[m.device]
            mode = int(looks["mode"][b, i])
            state = MachineState(_STATE_OF_MODE[mode])
            running = state in (MachineState.UNLOADED, MachineState.LOADED)
            was, since = self.since.get(m.device, (running, t - 1e6))
            if was != running:
                since = t
            self.since[m.device] = (running, since)
            machines.append(
                MachineSnapshot(
                    device=m.device,
                    state=state,
                    remote_enabled=bool(c.remote_enabled[b, i]),
                    control_source=int(looks["source"][b, i]),
                    alarm=mode == TRIPPED,
                    run_s=t - since if running else 0.0,
                    stop_s=t - since if not running else 0.0,
                    starts_last_hour=int(looks["starts"][b, i]),
                    running_hours=_q(
                        float(engine.counters["running_s"][b, i]) / 3600.0, q["running_hours_h"]
                    ),
                    flow_m3min=float(np.float32(looks["flow"][b, i])),  # a float32 register
                    load_command=int(c.load_enable[b, i]),
                    run_command=int(c.run_request[b, i]),
                    load_bar=_q(float(c.load_bar[b, i]), q["load_pressure_setpoint_bar"]),
                    unload_bar=_q(float(c.unload_bar[b, i]), q["unload_pressure_setpoint_bar"]),
                    target_bar=_q(float(c.target_bar[b, i]), q["target_pressure_setpoint_bar"]),
                    heartbeat_timeout_s=float(round(c.heartbeat_timeout_s[b, i])),
                )
            )
        delivered = sum(m.flow_m3min or 0.0 for m in machines)
        window = self.site.control.demand_window_s
        self.samples, dpdt, demand = track_demand(
            self.samples, t, bar, delivered, self.room.receiver_m3, window
        )
        pressure = Pressure(bar, bar is not None, 0.0)
        return RoomSnapshot(self.room.name, t, pressure, tuple(machines), demand, dpdt)

    def cycle(
        self, engine: AirRoom, b: int, t: float, bar: float | None, looks: dict[str, FloatArray], run: _Tally
    ) -> tuple[RoomSnapshot, Decision]:
        snap = self.snapshot(engine, b, t, bar, looks)
        decision = decide(snap, self.room, self.site.control, self.memory, self.writable)
        self.memory = decision.memory
        run.decisions += 1
        for alarm in decision.alarms:
            run.alarms[alarm.code] += 1
        for command in decision.writes:
            # what the controller receives: the profile's register value, decoded by its scale
            _, raw = register_write(self.profiles[command.device], command)
            quantum = _quantum(self.profiles[command.device], command.point)
            assert quantum is not None  # register_write found it
            value = raw * quantum[0] + quantum[1]
            result = engine.write(self.index[command.device], CONTROL_OF_POINT[command.point], value, room=b)
            if result.accepted:
                run.writes[(command.device, command.point)] += 1
            else:
                run.refused[command.device] += 1
        return snap, decision


@dataclass
class _Tally:
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    alarms: Counter[str] = field(default_factory=Counter)
    decisions: int = 0
    cpu_s: float = 0.0


def run_days(
    scenario: Scenario,
    site: SiteConfig,
    members: Sequence[Member],
    *,
    room_name: str | None = None,
    on_decision: Callable[[Member, Decision], None] | None = None,
    on_snapshot: Callable[[Member, RoomSnapshot], None] | None = None,
    hours: tuple[int, int] = (0, 24),
) -> list[DayRun]:
    """Simulate `members` (spans of consecutive days in a mode); each `active` one under its own agent.

    Each member is one continuous run of its `days` consecutive days: one warm-up at its start, then
    the machines, their timers and counters, the receiver's pressure and the agent's memory carry
    across each midnight. Members of the same length are stepped as one batch (one batch per length).
    Returns one `DayRun` per day, member by member in the order given, each member's days in order.

    `site` is the site config: its `control:` room (by `room_name`, else the first) names the
    scenario's compressors by device name, and its profiles give the registers' scales. `hours`: the
    span runs from hour `hours[0]` of its first day to hour `hours[1]` of its last day (whole hours of
    local time; default whole days), after the warm-up on the demand at its start. `on_snapshot` and
    `on_decision` see each cycle of each `active` member: what the agent read, what it decided."""
    air = scenario.air
    if air is None:
        raise ValueError(f"scenario {scenario.name}: no air system")
    if air.dt_s > 1 or abs(1 / air.dt_s - round(1 / air.dt_s)) > 1e-9:
        raise ValueError(
            f"scenario {scenario.name}: air.dt_s {air.dt_s} must be 1 s or a whole fraction of it "
            "(the demand is a value per second)"
        )
    room_cfg = next((r for r in site.control.rooms if room_name in (None, r.name)), None)
    if room_cfg is None:
        raise ValueError(f"site {site.site.name}: no control room {room_name!r}")
    first_s, end_s = hours[0] * 3600, hours[1] * 3600
    for m in members:
        if m.days < 1:
            raise ValueError(f"member {m}: days must be >= 1")
        span_ok = 0 <= first_s < 86400 and 0 < end_s <= 86400 and (m.days > 1 or first_s < end_s)
        if not span_ok:
            raise ValueError(
                f"hours {hours} must be a span of the day, 0-24 (from the first day's to the last's)"
            )
    runs: dict[int, list[DayRun]] = {}
    for days in sorted({m.days for m in members}):
        batch = [i for i, m in enumerate(members) if m.days == days]
        spans = _run_batch(
            scenario, site, room_cfg, [members[i] for i in batch], days, (first_s, end_s),
            on_decision, on_snapshot,
        )  # fmt: skip
        runs.update(zip(batch, spans, strict=True))
    return [day for i in range(len(members)) for day in runs[i]]


def _run_batch(
    scenario: Scenario,
    site: SiteConfig,
    room_cfg: ControlRoom,
    members: Sequence[Member],
    days: int,
    seconds: tuple[int, int],
    on_decision: Callable[[Member, Decision], None] | None,
    on_snapshot: Callable[[Member, RoomSnapshot], None] | None,
) -> list[list[DayRun]]:
    """Members of `days` consecutive days as one batch of rooms, run day by day without a restart
    (only the day's demand and the per-day records are held: a span's trace is never kept)."""
    air = scenario.air
    assert air is not None
    control = site.control
    compressor_of = {d.name: str(d.compressor) for d in scenario.devices if d.kind == "compressor"}
    engine = build_room(scenario, np.zeros(len(members), np.bool_))
    first_s, end_s = seconds
    engine.t += first_s
    devices = tuple(m.device for m in room_cfg.machines)
    index = {d: engine.machines.index(compressor_of.get(d, d)) for d in devices}
    order = [index[d] for d in devices]
    registry = ProfileRegistry()
    profiles = {d.name: registry.get(d.profile) for d in site.devices}
    steps = round(RECORD_S / air.dt_s)  # a record a minute, a demand column a second held 1 / dt steps
    t0 = [scenario.start.timestamp() + m.day * 86400.0 for m in members]  # the span's first midnight
    agents = {b: _Agent(site, room_cfg, profiles, index) for b, m in enumerate(members) if m.mode == ACTIVE}
    tallies = {b: _Tally() for b in range(len(members))}  # of the day being run
    rngs = {b: np.random.default_rng([scenario.seed, members[b].day, 19]) for b in agents}
    next_cycle = [engine.t]

    def hook(room: AirRoom) -> None:
        if not agents or room.t < next_cycle[0]:
            return
        next_cycle[0] += control.cycle_s
        started = time.process_time()
        looks = {
            "mode": room.mode,
            "source": room.control_source(),
            "starts": room.starts_last_hour(),
            "flow": room.flow_m3min(),
        }
        for b, agent in agents.items():
            reading = float(room.p[b]) + float(rngs[b].normal(0.0, TRANSMITTER_NOISE_BAR))
            bar = _q(reading, agent.pressure_q)
            snap, decision = agent.cycle(room, b, t0[b] + room.t, bar, looks, tallies[b])
            if on_snapshot is not None:
                on_snapshot(members[b], snap)
            if on_decision is not None:
                on_decision(members[b], decision)
        share = (time.process_time() - started) / len(agents)
        for b in agents:
            tallies[b].cpu_s += share

    def day_demand(k: int, lo: int, hi: int) -> FloatArray:
        per_second: FloatArray = np.stack([day_process_demand(scenario, m.day + k)[lo:hi] for m in members])
        return per_second

    out: list[list[DayRun]] = [[] for _ in members]
    for k in range(days):
        lo, hi = (first_s if k == 0 else 0), (end_s if k == days - 1 else 86400)
        demand = day_demand(k, lo, hi)
        if k == 0:  # one warm-up, on the span's first demand
            engine.run(demand[:, :1], round(WARMUP_S / air.dt_s), on_step=hook)
            engine.reset_counters()
        record = engine.run(demand, steps, on_step=hook, demand_per_record=RECORD_S)
        del demand
        for b, m in enumerate(members):
            units, temperature = day_production(scenario, m.day + k)
            tally = tallies[b]
            tallies[b] = _Tally()

            def per_minute(array: FloatArray, b: int = b) -> FloatArray:
                out: FloatArray = np.diff(array[b], axis=0)
                return out[:, order] if out.ndim == 2 else out

            out[b].append(
                DayRun(
                    member=m,
                    day=m.day + k,
                    t0=t0[b] + k * 86400.0,
                    first_s=lo,
                    machines=devices,
                    energy_kwh=per_minute(record.energy_kwh),
                    air_m3=per_minute(record.air_m3),
                    starts=per_minute(record.starts),
                    loaded_s=per_minute(record.loaded_s),
                    running_s=per_minute(record.running_s),
                    process_m3=per_minute(record.process_m3),
                    leak_m3=per_minute(record.leak_m3),
                    pressure_min_bar=record.pressure_min_bar[b].copy(),
                    pressure_mean_bar=record.pressure_mean_bar[b].copy(),
                    units=_per_minute(units, scenario.step_s, "sum")[lo // 60 : hi // 60],
                    temperature_c=_per_minute(temperature, scenario.step_s, "mean")[lo // 60 : hi // 60],
                    writes=tally.writes,
                    refused=tally.refused,
                    alarms=tally.alarms,
                    decisions=tally.decisions,
                    agent_s=tally.cpu_s,
                )
            )
    return out


def _per_minute(values: FloatArray, step_s: int, how: str) -> FloatArray:
    if step_s == RECORD_S:
        return values.astype(np.float64)
    if step_s > RECORD_S:
        return np.repeat(values / (step_s // RECORD_S) if how == "sum" else values, step_s // RECORD_S)
    shaped = values.reshape(-1, RECORD_S // step_s)
    out: FloatArray = shaped.sum(axis=1) if how == "sum" else shaped.mean(axis=1)
    return out


def history_frame(
    runs: Sequence[DayRun], tz: object, meter: str, production_per_unit: float = 0.001, interval_s: int = 900
) -> pd.DataFrame:
    """The days as a site's 15-minute export in the import format (`energy-agent import`,
    docs/analytics.md): the room meter's energy (the machines' sum), production, temperature, and per
    machine loaded/running hours, air and the header pressure (mean, min)."""
    per = interval_s // RECORD_S
    frames = []
    for run in sorted(runs, key=lambda r: r.t0):

        def total(values: FloatArray, per: int = per) -> FloatArray:
            out: FloatArray = values.reshape(-1, per, *values.shape[1:]).sum(axis=1)
            return out

        starts = run.start + np.arange(len(run.energy_kwh) // per) * interval_s
        frame = pd.DataFrame({"timestamp": pd.to_datetime(starts, unit="s", utc=True).tz_convert(tz)})
        frame[f"{meter}_kwh"] = total(run.energy_kwh).sum(axis=1)
        frame["production"] = total(run.units) * production_per_unit
        frame["temperature_c"] = run.temperature_c.reshape(-1, per).mean(axis=1)
        loaded, running, air = total(run.loaded_s), total(run.running_s), total(run.air_m3)
        mean = run.pressure_mean_bar.reshape(-1, per).mean(axis=1)
        low = run.pressure_min_bar.reshape(-1, per).min(axis=1)
        for m, device in enumerate(run.machines):
            frame[f"{device}.loaded_h"] = loaded[:, m] / 3600
            frame[f"{device}.running_h"] = running[:, m] / 3600
            frame[f"{device}.air_m3"] = air[:, m]
            frame[f"{device}.pressure_bar"] = mean
            frame[f"{device}.pressure_min_bar"] = low
        frames.append(frame)
    assert SITE_ENERGY_COLUMN  # the import's own column names (agent.history.importer)
    return pd.concat(frames, ignore_index=True)
