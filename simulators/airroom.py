"""The compressor room as a time-stepped machine: receiver pressure, each compressor's own control,
start/stop rules, and the control inputs a master controller (or the Modbus surface) writes.

One `AirRoom` simulates B rooms at once (numpy arrays over a batch axis B, machines on axis M): the
offline history runs every day of a year, actual and counterfactual, as one batch; the live simulator
runs B = 1 and advances it to the clock's time. Each step of `dt_s` seconds:

    dP/dt = (sum of machine air - process demand - leak(P)) * p_atm / V          [bar/s, air in m3/s]
    leak(P) = leak_ref * (P + p_atm) / (P_ref + p_atm)      (choked flow through fixed holes)

Machine modes: 0 off, 1 starting (motor runs, no air), 2 running unloaded, 3 loaded (load/unload) or
modulating (VSD), 4 tripped. A load/unload machine loads at or below its load pressure and unloads at
its unload pressure; unloaded it runs on for `run_on_s`, then stops once its minimum run time has
passed; it starts again when pressure falls to its load pressure, at most `max_starts_per_h` times an
hour. Each time it loads it first refills its sump (vented on unload: the blow-down loss) for
`sump_fill_s` seconds at loaded power without delivering air. A VSD holds its target pressure with a PI
speed controller between `min_speed` and full speed, and unloads at minimum speed once pressure
reaches its unload pressure. Power rises by `power_per_bar` per bar of discharge pressure above rating.

Control inputs per machine (`Controls`; defaults = local control): `remote_enabled`, `run_request`,
`load_enable`, setpoints `load_bar` / `unload_bar` / `target_bar`, `heartbeat` (any change = alive) and
`heartbeat_timeout_s`. Commands act only while remote is enabled and the heartbeat is fresh; otherwise
the machine runs on its own (local) band, reporting `control_source` 2 after a heartbeat loss. A stop is
never honoured before the minimum run time, nor a start beyond `max_starts_per_h`. Every write is
counted as accepted or refused per machine (`AirRoom.write`).

A `Sequencer` (the retrofit's master controller) drives the same control inputs: VSDs first as trim,
then fixed-speed machines as base load, staging machines on and off instead of idling them unloaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "ATM_BAR",
    "CONTROL_NAMES",
    "LOADED",
    "OFF",
    "STARTING",
    "TRIPPED",
    "UNLOADED",
    "AirRoom",
    "Controls",
    "MachineParams",
    "RoomRecord",
    "Sequencer",
    "SequencerParams",
    "WriteResult",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

ATM_BAR = 1.01325
OFF, STARTING, UNLOADED, LOADED, TRIPPED = 0, 1, 2, 3, 4
# Control sources as the controllers report them.
LOCAL, REMOTE, LOCAL_FALLBACK = 0, 1, 2
CONTROL_NAMES = (
    "run_request",
    "load_enable",
    "load_bar",
    "unload_bar",
    "target_bar",
    "heartbeat",
    "heartbeat_timeout_s",
)


@dataclass(frozen=True)
class MachineParams:
    """Per-machine constants (arrays over M) and the machines' local settings."""

    names: tuple[str, ...]
    is_vsd: BoolArray
    rated_kw: FloatArray  # package input at full load and rated pressure
    fad_m3min: FloatArray
    rated_bar: FloatArray
    unload_fraction: FloatArray  # unloaded / loaded power
    min_speed: FloatArray  # VSD turndown (flow fraction); 1 for fixed-speed machines
    vsd_fixed_fraction: FloatArray  # VSD power at zero flow as a share of full power
    run_on_s: FloatArray
    min_run_s: FloatArray
    max_starts_per_h: IntArray
    start_s: FloatArray  # star-delta / soft start: motor runs, no air
    sump_fill_s: FloatArray  # loaded power without air after each load (blow-down refill)
    stop_delay_s: FloatArray  # unloaded run before a commanded stop
    remote_default: BoolArray  # panel key at 'remote' when the room is built

    @property
    def count(self) -> int:
        return len(self.names)

    def index(self, machine: str | int) -> int:
        if isinstance(machine, int):
            if not 0 <= machine < self.count:
                raise KeyError(f"no machine {machine}")
            return machine
        try:
            return self.names.index(machine)
        except ValueError:
            raise KeyError(f"no machine {machine!r}; machines: {list(self.names)}") from None


@dataclass(frozen=True)
class WriteResult:
    accepted: bool
    reason: str  # "" when accepted


@dataclass
class Controls:
    """The control inputs of every machine in every room of the batch ([B, M] arrays)."""

    remote_enabled: BoolArray
    run_request: BoolArray
    load_enable: BoolArray
    load_bar: FloatArray
    unload_bar: FloatArray
    target_bar: FloatArray
    heartbeat: IntArray
    heartbeat_changed_at: FloatArray  # room time of the last heartbeat change
    heartbeat_timeout_s: FloatArray
    accepted_writes: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # [M]
    refused_writes: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # [M]


@dataclass(frozen=True)
class SequencerParams:
    """A master controller: one narrow pressure band for the room, machines called on in `order`."""

    order: tuple[int, ...]  # machine indexes, first called on first (the trim VSD first)
    low_bar: float
    high_bar: float
    step_bar: float = 0.05  # each machine in the order loads this much lower than the one before
    period_s: float = 5.0
    stop_unloaded_s: float = 300.0

    @property
    def target_bar(self) -> float:
        return (self.low_bar + self.high_bar) / 2


@dataclass
class RoomRecord:
    """Counters at the end of each record step ([B, K+1, M] or [B, K+1]; index 0 = the start) and
    pressure statistics per record step ([B, K]); optional fine traces per dt for B = 1."""

    energy_kwh: FloatArray
    loaded_kwh: FloatArray
    running_s: FloatArray
    loaded_s: FloatArray
    air_m3: FloatArray
    load_cycles: FloatArray
    starts: FloatArray
    blowdown_kwh: FloatArray
    leak_m3: FloatArray
    process_m3: FloatArray
    pressure_mean_bar: FloatArray
    pressure_min_bar: FloatArray
    pressure_max_bar: FloatArray
    trace: dict[str, npt.NDArray[np.generic]] | None = None  # B = 1: per dt step (see AirRoom.run)


def _full(batch: int, values: FloatArray | BoolArray) -> npt.NDArray[np.generic]:
    return np.broadcast_to(values, (batch, len(values))).copy()


class AirRoom:
    """B compressor rooms with the same machines, stepped together."""

    _COUNTERS = (
        "energy_kwh",
        "loaded_kwh",
        "running_s",
        "loaded_s",
        "air_m3",
        "load_cycles",
        "starts",
        "blowdown_kwh",
    )

    def __init__(
        self,
        machines: MachineParams,
        *,
        volume_m3: float,
        leak_ref_m3min: FloatArray,
        leak_ref_bar: float,
        power_per_bar: float,
        local_load_bar: FloatArray,
        local_unload_bar: FloatArray,
        local_target_bar: FloatArray,
        start_pressure_bar: FloatArray,
        t0: float = 0.0,
        dt_s: float = 1.0,
        kp: float = 0.6,
        ki: float = 0.06,
        sequencer: Sequencer | None = None,
    ) -> None:
        """`leak_ref_m3min`, `start_pressure_bar`: [B]; local settings: [B, M] (or [M])."""
        if dt_s <= 0 or volume_m3 <= 0:
            raise ValueError(f"dt_s and volume_m3 must be > 0, got {dt_s}, {volume_m3}")
        self.machines = m = machines
        self.batch = b = len(leak_ref_m3min)
        self.dt_s = dt_s
        self.t = t0
        self.volume_m3 = volume_m3
        self.power_per_bar = power_per_bar
        self.kp, self.ki = kp, ki
        self._leak_k = np.asarray(leak_ref_m3min, np.float64) / (leak_ref_bar + ATM_BAR)
        self._dp_per_m3min = ATM_BAR * dt_s / 60.0 / volume_m3
        self._pf0 = m.rated_kw * (1 - power_per_bar * m.rated_bar)
        self._pf1 = m.rated_kw * power_per_bar
        self._a = np.where(m.is_vsd, m.vsd_fixed_fraction, 1.0)
        self._b = np.where(m.is_vsd, 1 - m.vsd_fixed_fraction, 0.0)
        self._min_speed = np.where(m.is_vsd, m.min_speed, 1.0)
        self._min_speed_eps = self._min_speed + 1e-9
        self._fad = m.fad_m3min.astype(np.float64)
        self._runon_stopping = np.minimum(m.run_on_s, m.stop_delay_s)
        self.local_load_bar = np.broadcast_to(local_load_bar, (b, m.count)).astype(np.float64)
        self.local_unload_bar = np.broadcast_to(local_unload_bar, (b, m.count)).astype(np.float64)
        self.local_target_bar = np.broadcast_to(local_target_bar, (b, m.count)).astype(np.float64)
        # State.
        self.p = np.asarray(start_pressure_bar, np.float64).copy()
        self.mode = np.zeros((b, m.count), np.int8)
        self.integ = _full(b, self._min_speed).astype(np.float64)
        self.speed = self.integ.copy()
        self.t_run = np.zeros((b, m.count))
        self.runon_left = np.zeros((b, m.count))
        self.fill_left = np.zeros((b, m.count))
        self.stopped_at = np.full((b, m.count), t0)
        self._ring = np.full((b, m.count, int(max(1, m.max_starts_per_h.max()))), -np.inf)
        self._ring_pos = np.zeros((b, m.count), np.int64)
        self.next_start_ok = np.full((b, m.count), -np.inf)
        self.counters = {name: np.zeros((b, m.count)) for name in self._COUNTERS}
        self.leak_m3 = np.zeros(b)
        self.process_m3 = np.zeros(b)
        self.controls = Controls(
            remote_enabled=_full(b, m.remote_default).astype(np.bool_),
            run_request=np.ones((b, m.count), np.bool_),
            load_enable=np.ones((b, m.count), np.bool_),
            load_bar=self.local_load_bar.copy(),
            unload_bar=self.local_unload_bar.copy(),
            target_bar=self.local_target_bar.copy(),
            heartbeat=np.zeros((b, m.count), np.int64),
            heartbeat_changed_at=np.full((b, m.count), -np.inf),
            heartbeat_timeout_s=np.full((b, m.count), 30.0),
            accepted_writes=np.zeros(m.count, np.int64),
            refused_writes=np.zeros(m.count, np.int64),
        )
        self.sequencer = sequencer
        self.control_changes = 0  # writes and panel-key changes so far (what a sequencer may undo)
        self._dirty = True
        self._expiry = math.inf
        self.remote_active = np.zeros((b, m.count), np.bool_)
        self.last_power = np.zeros((b, m.count))
        self.last_flow = np.zeros((b, m.count))
        self._tmp = np.zeros((b, m.count))  # step scratch
        self._refresh_controls()

    # ------------------------------------------------------------------ control inputs

    def control_source(self) -> IntArray:
        """Per [B, M]: 0 local, 1 remote, 2 local fallback (remote enabled, heartbeat stale)."""
        c = self.controls
        fresh = self.t - c.heartbeat_changed_at < c.heartbeat_timeout_s
        source: IntArray = np.where(c.remote_enabled, np.where(fresh, REMOTE, LOCAL_FALLBACK), LOCAL)
        return source

    def starts_last_hour(self) -> IntArray:
        counted: IntArray = (self._ring > self.t - 3600.0).sum(axis=2)
        return counted

    def set_remote_enabled(self, machine: str | int, enabled: bool, room: int = 0) -> None:
        """The panel key (local/remote): not a Modbus write, a test hook of the simulator."""
        self.controls.remote_enabled[room, self.machines.index(machine)] = enabled
        self._dirty = True
        self.control_changes += 1

    def write(self, machine: str | int, name: str, value: float, room: int = 0) -> WriteResult:
        """A control write from outside (the Modbus surface), at the room's current time."""
        m = self.machines.index(machine)
        result = self._check_write(m, name, value, room)
        if result.accepted:
            self._apply(m, name, value, room)
            self.controls.accepted_writes[m] += 1
        else:
            self.controls.refused_writes[m] += 1
        return result

    def _check_write(self, m: int, name: str, value: float, room: int) -> WriteResult:
        c = self.controls
        if name not in CONTROL_NAMES:
            return WriteResult(False, f"unknown control {name!r}")
        if not c.remote_enabled[room, m]:
            return WriteResult(False, "remote control not enabled at the panel")
        if not math.isfinite(value):
            return WriteResult(False, "not a number")
        if name in ("run_request", "load_enable") and value not in (0, 1):
            return WriteResult(False, f"{name} must be 0 or 1")
        if name in ("load_bar", "unload_bar", "target_bar") and not 3.0 <= value <= 13.0:
            return WriteResult(False, f"{name} {value} bar outside 3-13 bar")
        load = value if name == "load_bar" else float(c.load_bar[room, m])
        unload = value if name == "unload_bar" else float(c.unload_bar[room, m])
        if name in ("load_bar", "unload_bar") and load >= unload:
            return WriteResult(False, f"load pressure {load} must be below unload pressure {unload}")
        if name == "heartbeat_timeout_s" and not 1 <= value <= 3600:
            return WriteResult(False, "heartbeat_timeout_s outside 1-3600 s")
        return WriteResult(True, "")

    def _apply(self, m: int, name: str, value: float, room: int) -> None:
        c = self.controls
        if name == "heartbeat":
            if int(value) != int(c.heartbeat[room, m]):
                c.heartbeat[room, m] = int(value)
                c.heartbeat_changed_at[room, m] = self.t
        else:
            array = getattr(c, name)
            array[room, m] = value
        self._dirty = True
        self.control_changes += 1

    def _refresh_controls(self) -> None:
        c = self.controls
        fresh = self.t - c.heartbeat_changed_at < c.heartbeat_timeout_s
        active = c.remote_enabled & fresh
        self.remote_active = active
        self.eff_run = np.where(active, c.run_request, True)
        self.eff_can_load = self.eff_run & np.where(active, c.load_enable, True)
        self._cannot_load = ~self.eff_can_load
        self.eff_load_bar = np.where(active, c.load_bar, self.local_load_bar)
        self.eff_unload_bar = np.where(active, c.unload_bar, self.local_unload_bar)
        self.eff_target_bar = np.where(active, c.target_bar, self.local_target_bar)
        m = self.machines
        self._runon_set = np.where(self.eff_run, m.run_on_s, self._runon_stopping)
        self.runon_left = np.where(self.eff_run, self.runon_left, np.minimum(self.runon_left, m.stop_delay_s))
        expiries = np.where(active, c.heartbeat_changed_at + c.heartbeat_timeout_s, math.inf)
        self._expiry = float(expiries.min()) if expiries.size else math.inf
        self._dirty = False

    # ------------------------------------------------------------------ physics

    def reset_counters(self) -> None:
        """Zero every counter (after a warm-up), keeping the state and the starts of the last hour."""
        for array in self.counters.values():
            array[:] = 0.0
        self.leak_m3[:] = 0.0
        self.process_m3[:] = 0.0

    def trip(self, machine: str | int, room: int = 0) -> None:
        """A machine trips (a fault): it stops at once and stays stopped until `reset_trip`."""
        m = self.machines.index(machine)
        self.mode[room, m] = TRIPPED

    def reset_trip(self, machine: str | int, room: int = 0) -> None:
        m = self.machines.index(machine)
        if self.mode[room, m] == TRIPPED:
            self.mode[room, m] = OFF
            self.stopped_at[room, m] = self.t

    def power_kw(self) -> FloatArray:
        """Electrical input per machine at the current state ([B, M])."""
        full = self._pf0 + self._pf1 * self.p[:, None]
        mode = self.mode
        loaded = mode == LOADED
        running = (mode == STARTING) | (mode == UNLOADED)
        share = np.where(loaded, self._a + self._b * self.speed, running * self.machines.unload_fraction)
        power: FloatArray = full * share
        return power

    def flow_m3min(self) -> FloatArray:
        """Free air delivered per machine at the current state ([B, M])."""
        flow: FloatArray = (self.mode == LOADED) * (self.fill_left <= 0) * self.speed * self._fad
        return flow

    def step(self, demand_m3min: FloatArray) -> None:
        """Advance every room by dt_s with this process demand ([B], m3/min of free air)."""
        # Few numpy calls per step (their overhead dominates at B = 1), in place where the state is
        # kept, and no masked (`where=`) or fancy-indexed operations (slow at a year's batch). The
        # comments give the plain expression each group computes, bit for bit.
        if self.sequencer is not None:
            self.sequencer.control(self)
        if self._dirty or self.t >= self._expiry:
            self._refresh_controls()
        dt = self.dt_s
        m = self.machines
        p = self.p
        mode = self.mode
        tmp = self._tmp
        loaded = mode == LOADED
        unloaded = mode == UNLOADED
        starting = mode == STARTING
        running = loaded | unloaded
        running |= starting
        # VSD: PI speed control towards the target (fixed-speed machines have min = max = 1).
        pc = p[:, None]
        err = self.eff_target_bar - pc
        integ = np.multiply(err, self.ki * dt)
        integ += self.integ  # clip(integ + ki dt err, min_speed, 1)
        np.maximum(integ, self._min_speed, out=integ)
        np.minimum(integ, 1.0, out=integ)
        speed = np.multiply(err, self.kp, out=err)  # clip(kp err + integ, min_speed, 1)
        speed += integ
        np.maximum(speed, self._min_speed, out=speed)
        np.minimum(speed, 1.0, out=speed)
        self.integ = np.where(loaded, integ, self._min_speed)  # the integrator rests unloaded
        self.speed = speed
        filling = self.fill_left > 0
        flow = np.multiply(speed, self._fad)  # loaded and not refilling: speed x FAD
        flow *= loaded > filling
        full = self._pf1 * pc  # pf0 + pf1 p
        full += self._pf0
        share = np.multiply(self._b, speed)  # loaded: a + b speed; else running x unload share
        share += self._a
        power = np.where(loaded, share, np.multiply(running, m.unload_fraction, out=tmp))
        power *= full
        leak = self._leak_k * (p + ATM_BAR)
        p_new = flow.sum(axis=1)  # p + (supply - demand - leak) x dp per m3/min
        p_new -= demand_m3min
        p_new -= leak
        p_new *= self._dp_per_m3min
        p_new += p
        self.p = p_new
        self.last_power, self.last_flow = power, flow
        # Counters over the step just simulated (state held during the step); x mask = x or 0.
        c = self.counters
        kwh = np.multiply(power, dt / 3600.0, out=share)
        c["energy_kwh"] += kwh
        c["loaded_kwh"] += np.multiply(kwh, loaded, out=tmp)
        c["blowdown_kwh"] += np.multiply(kwh, filling, out=tmp)
        c["air_m3"] += np.multiply(flow, dt / 60.0, out=tmp)
        c["loaded_s"] += np.multiply(loaded, dt, out=tmp)
        running_dt = np.multiply(running, dt, out=tmp)
        c["running_s"] += running_dt
        self.t_run += running_dt
        self.fill_left -= np.multiply(filling, dt, out=tmp)
        self.runon_left -= np.multiply(unloaded, dt, out=tmp)
        leak *= dt / 60.0
        self.leak_m3 += leak
        self.process_m3 += demand_m3min * (dt / 60.0)
        self.t += dt
        # Transitions at the end of the step, on the new pressure.
        pn = p_new[:, None]
        low = pn <= self.eff_load_bar
        high = pn >= self.eff_unload_bar
        run_low = self.eff_run & low
        # unload = loaded & (~can_load | (high & speed at its minimum))
        unload = speed <= self._min_speed_eps
        unload &= high
        unload |= self._cannot_load
        unload &= loaded
        load = low & self.eff_can_load  # unloaded & can_load & low
        load &= unloaded
        # stop = unloaded & ~load & run-on over & min run over & ~(run & low); load implies run & low
        stop = self.runon_left <= 0
        stop &= unloaded
        stop &= self.t_run >= m.min_run_s
        stop = np.greater(stop, run_low, out=stop)
        start_done = self.t_run >= m.start_s  # starting & t_run >= start_s
        start_done &= starting
        start = self.t >= self.next_start_ok  # off & run & low & t >= next_start_ok
        start &= mode == OFF
        start &= run_low
        to_loaded = np.greater(self.eff_can_load, high, out=high)  # start_done & can_load & ~high
        to_loaded &= start_done
        # OFF->STARTING +1, STARTING->UNLOADED +1 or ->LOADED +2, UNLOADED->LOADED +1, ->OFF -2,
        # LOADED->UNLOADED -1: each machine takes at most one transition per step.
        mode += start
        mode += start_done
        mode += to_loaded
        mode += load
        mode -= stop
        mode -= stop
        mode -= unload
        loading = np.logical_or(load, to_loaded, out=load)
        c["load_cycles"] += loading
        self.fill_left = np.where(loading, m.sump_fill_s, self.fill_left)
        self.runon_left = np.where(unload, self._runon_set, self.runon_left)
        if start.any():
            self._record_starts(start)
        if stop.any():
            self.stopped_at = np.where(stop, self.t, self.stopped_at)

    def _record_starts(self, start: BoolArray) -> None:
        rows, cols = np.nonzero(start)
        self.counters["starts"] += start
        self.t_run[rows, cols] = 0.0
        limit = self.machines.max_starts_per_h[cols]
        pos = self._ring_pos[rows, cols]
        self._ring[rows, cols, pos] = self.t
        pos = (pos + 1) % limit
        self._ring_pos[rows, cols] = pos
        # The start `limit` starts back must be an hour old before the next one.
        self.next_start_ok[rows, cols] = self._ring[rows, cols, pos] + 3600.0

    def run(
        self,
        demand_m3min: FloatArray,
        steps_per_record: int,
        *,
        trace: bool = False,
        on_step: Callable[[AirRoom], None] | None = None,
        demand_per_record: int = 1,
    ) -> RoomRecord:
        """Run K record steps of `steps_per_record` dt each; demand [B, K x demand_per_record] is held
        constant within each of its columns. Returns the counters at each record boundary and, with
        `trace`, what every dt step did ([B, n] pressure at its start, [B, n, M] mode, power, air)."""
        b, columns = demand_m3min.shape
        k = columns // demand_per_record
        per_demand = steps_per_record // demand_per_record
        if per_demand * demand_per_record != steps_per_record or k * demand_per_record != columns:
            raise ValueError("demand columns must divide the record steps evenly")
        if b != self.batch:
            raise ValueError(f"demand has {b} rooms, the room batch has {self.batch}")
        snap = {name: np.empty((b, k + 1, self.machines.count)) for name in self._COUNTERS}
        room = {name: np.empty((b, k + 1)) for name in ("leak_m3", "process_m3")}
        p_mean, p_min, p_max = np.empty((b, k)), np.empty((b, k)), np.empty((b, k))
        n = k * steps_per_record
        fine = _trace_buffers(b, n, self.machines.count) if trace else None
        self._snapshot(snap, room, 0)
        i = 0
        for record in range(k):
            total = np.zeros(b)
            low = self.p.copy()
            high = self.p.copy()
            for sub in range(steps_per_record):
                if sub % per_demand == 0:
                    demand = np.ascontiguousarray(
                        demand_m3min[:, record * demand_per_record + sub // per_demand]
                    )
                total += self.p
                if fine is not None:
                    fine["pressure_bar"][:, i] = self.p
                    fine["mode"][:, i] = self.mode
                self.step(demand)
                if fine is not None:
                    fine["power_kw"][:, i] = self.last_power
                    fine["flow_m3min"][:, i] = self.last_flow
                if on_step is not None:
                    on_step(self)
                np.minimum(low, self.p, out=low)
                np.maximum(high, self.p, out=high)
                i += 1
            p_mean[:, record] = total / steps_per_record
            p_min[:, record], p_max[:, record] = low, high
            self._snapshot(snap, room, record + 1)
        return RoomRecord(
            **snap,
            leak_m3=room["leak_m3"],
            process_m3=room["process_m3"],
            pressure_mean_bar=p_mean,
            pressure_min_bar=p_min,
            pressure_max_bar=p_max,
            trace=fine,
        )

    def _snapshot(self, snap: dict[str, FloatArray], room: dict[str, FloatArray], index: int) -> None:
        for name, array in snap.items():
            array[:, index] = self.counters[name]
        room["leak_m3"][:, index] = self.leak_m3
        room["process_m3"][:, index] = self.process_m3


def _trace_buffers(batch: int, n: int, machines: int) -> dict[str, npt.NDArray[np.generic]]:
    # float32 keeps a traced day small; counters come from the engine's float64 sums.
    return {
        "pressure_bar": np.empty((batch, n), np.float32),
        "mode": np.empty((batch, n, machines), np.int8),
        "power_kw": np.empty((batch, n, machines), np.float32),
        "flow_m3min": np.empty((batch, n, machines), np.float32),
    }


class Sequencer:
    """The retrofit's master controller for the rooms of a batch where `active` is set ([B]).

    It writes every machine's setpoints into one narrow band in `params.order`: the first VSD trims
    at the band's middle, each following machine loads a little lower (`step_bar`), so a machine only
    comes in when those before it cannot hold the pressure. A machine that has run unloaded for
    `stop_unloaded_s` is commanded to stop (instead of idling through its own long run-on), and is
    allowed to start again once stopped. It writes through the control inputs, keeping its heartbeat
    alive, as a real master does on the bus.
    """

    def __init__(self, params: SequencerParams, active: BoolArray, machines: MachineParams) -> None:
        if sorted(params.order) != list(range(machines.count)):
            raise ValueError(f"sequencer order {params.order} must name every machine once")
        self.params = params
        self.active = np.asarray(active, np.bool_)
        self._any_active = bool(self.active.any())
        self._act = self.active[:, None]
        self._inactive = ~self._act
        self._seen: tuple[int, int] | None = None  # (room, its control_changes) when last written
        rank = np.empty(machines.count, np.int64)
        rank[np.asarray(params.order, np.int64)] = np.arange(machines.count)
        target = params.target_bar
        below = np.maximum(rank, 1) - 1
        load = np.where(rank == 0, params.low_bar, target - params.step_bar * (below + 1))
        self.load_bar = np.maximum(load, params.low_bar)
        self.unload_bar = np.where(
            rank == 0, params.high_bar, np.minimum(self.load_bar + 0.3, params.high_bar)
        )
        self.target_bar = np.where(rank == 0, target, (self.load_bar + self.unload_bar) / 2)
        self._machines = machines
        self._next_at = -math.inf
        self._beat = 0

    def control(self, room: AirRoom) -> None:
        if room.t < self._next_at or not self._any_active:
            return
        p = self.params
        self._next_at = room.t + p.period_s
        c = room.controls
        act = self._act
        mode = room.mode
        idle_s = self._machines.run_on_s - room.runon_left
        stop = (mode == UNLOADED) & (idle_s >= p.stop_unloaded_s) & c.run_request
        run = (mode == OFF) | (c.run_request > stop)  # off, or asked to run and not stopped now
        run = np.where(act, run, c.run_request)
        # The room re-derives its effective controls only when this call changes them: the first
        # time, after an outside write or panel change (undone here), when a run request flips, or
        # when a heartbeat had gone stale. Otherwise only the heartbeat moves on (a fresh one stays
        # fresh, and the room's refresh at the old expiry finds the same controls).
        changed = (
            self._seen != (id(room), room.control_changes)
            or not np.array_equal(run, c.run_request)
            or not (room.remote_active | self._inactive).all()
        )
        self._seen = (id(room), room.control_changes)
        c.run_request = run
        if changed:
            c.remote_enabled = c.remote_enabled | act
            c.load_enable = c.load_enable | act
            c.load_bar = np.where(act, self.load_bar, c.load_bar)
            c.unload_bar = np.where(act, self.unload_bar, c.unload_bar)
            c.target_bar = np.where(act, self.target_bar, c.target_bar)
            room._dirty = True
        self._beat += 1
        c.heartbeat = np.where(act, self._beat, c.heartbeat)
        c.heartbeat_changed_at = np.where(act, room.t, c.heartbeat_changed_at)
