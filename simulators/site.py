"""The simulated site at any instant: gauges and exact counters per device, from the day physics.

`SiteModel.values(device, t)` returns every physics quantity of a device at epoch time `t` under the
point names the shipped profiles use. Counters are the exact integral of the physics up to `t`
(day totals are cached, so a live server pays for past days once; past days are simulated as one
batch). Compressor gauges come from the compressor-room engine's trace of the day (one entry per
engine step), the header pressure transmitter shows the room's pressure.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from simulators.environment import FloatArray
from simulators.physics import AirDay, DaySteps, compute_days
from simulators.scenario import DeviceSpec, Scenario

__all__ = ["COUNTERS", "SiteModel", "day_totals", "device_step_increments", "remember_day_totals"]

# The true counters of each device kind, in engineering units.
COUNTERS: dict[str, tuple[str, ...]] = {
    "meter": ("import_kwh", "import_kvarh", "kvah"),
    "compressor": ("energy_kwh", "running_h", "loaded_h", "fad_m3", "load_cycles", "starts"),
    "production_counter": ("units", "rejects"),
    "sensor": (),
}

_CACHE_DAYS = 4
# Traced days shared by the site models of one process (tests build many of the same scenario).
# Keyed by the scenario's id; the entry holds the scenario so that the id stays its own.
_TRACED: OrderedDict[tuple[int, bool, int], tuple[Scenario, DaySteps]] = OrderedDict()
_TRACED_DAYS = 8


# What each device's counters grew by over a day, for every day simulated in this process (the
# history generator leaves them here, so a live server of the same scenario object need not simulate
# the past again). Keyed like _TRACED.
_DAY_TOTALS: dict[tuple[int, bool, int], tuple[Scenario, dict[str, dict[str, float]]]] = {}
_DAY_TOTALS_MAX = 3000


def day_totals(scenario: Scenario, steps: DaySteps) -> dict[str, dict[str, float]]:
    """Per device, how much each true counter grows over the day."""
    return {
        dev.name: {k: float(v.sum()) for k, v in device_step_increments(scenario, dev, steps).items()}
        for dev in scenario.devices
    }


def remember_day_totals(
    scenario: Scenario, retrofit: bool, index: int, totals: dict[str, dict[str, float]]
) -> None:
    _DAY_TOTALS[(id(scenario), retrofit, index)] = (scenario, totals)
    while len(_DAY_TOTALS) > _DAY_TOTALS_MAX:  # oldest first: a long test run builds many scenarios
        del _DAY_TOTALS[next(iter(_DAY_TOTALS))]


def _known_totals(scenario: Scenario, retrofit: bool, index: int) -> dict[str, dict[str, float]] | None:
    known = _DAY_TOTALS.get((id(scenario), retrofit, index))
    return known[1] if known is not None else None


def _remember(scenario: Scenario, retrofit: bool, index: int, steps: DaySteps) -> None:
    key = (id(scenario), retrofit, index)
    _TRACED[key] = (scenario, steps)
    _TRACED.move_to_end(key)
    while len(_TRACED) > _TRACED_DAYS:
        _TRACED.popitem(last=False)


_BATCH_DAYS = 400  # past days simulated together for the counters' day-start totals
_MAX_RPM = 2980.0


def _meter_arrays(scenario: Scenario, device: DeviceSpec, day: DaySteps) -> tuple[FloatArray, FloatArray]:
    if "site" in device.measures:
        names = [load.name for load in scenario.loads] + list(day.compressors)
        factor = 1 + scenario.loss_fraction
    else:
        names, factor = list(device.measures), 1.0
    kw = sum((day.element_kw(n) for n in names), np.zeros(day.n_steps)) * factor
    kvar = sum((day.element_kvar(n) for n in names), np.zeros(day.n_steps)) * factor
    return kw, kvar


def device_step_increments(scenario: Scenario, device: DeviceSpec, day: DaySteps) -> dict[str, FloatArray]:
    """Per step, how much each true counter of the device grows."""
    hours = day.step_s / 3600.0
    if device.kind == "meter":
        kw, kvar = _meter_arrays(scenario, device, day)
        return {"import_kwh": kw * hours, "import_kvarh": kvar * hours, "kvah": np.hypot(kw, kvar) * hours}
    if device.kind == "compressor":
        c = day.compressors[str(device.compressor)]
        return {
            "energy_kwh": c.kwh,
            "running_h": c.running_s / 3600.0,
            "loaded_h": c.loaded_s / 3600.0,
            "fad_m3": c.air_m3,
            "load_cycles": c.load_cycles,
            "starts": c.starts,
        }
    if device.kind == "sensor":
        return {}
    return {"units": day.units, "rejects": day.rejects}


@dataclass
class _DeviceDay:
    increments: dict[str, FloatArray]
    before_step: dict[str, FloatArray]  # counter growth from the day start to each step start


class SiteModel:
    """Exact device values at any time, for the actual site or (retrofit=False) its counterfactual."""

    def __init__(self, scenario: Scenario, *, retrofit: bool = True) -> None:
        self.scenario = scenario
        self.retrofit = retrofit
        self._t_start = scenario.start.timestamp()
        self._days: OrderedDict[int, DaySteps] = OrderedDict()
        self._device_days: OrderedDict[tuple[int, str], _DeviceDay] = OrderedDict()
        self._day_start_totals: list[dict[str, dict[str, float]]] = [self._initial_totals()]
        self._phase_shares = self._meter_phase_shares()

    def _initial_totals(self) -> dict[str, dict[str, float]]:
        totals = {}
        for dev in self.scenario.devices:
            counters = dict.fromkeys(COUNTERS[dev.kind], 0.0)
            if dev.kind in ("meter", "compressor"):
                counters["import_kwh" if dev.kind == "meter" else "energy_kwh"] = dev.initial_kwh
            totals[dev.name] = counters
        return totals

    def _meter_phase_shares(self) -> dict[str, FloatArray]:
        rng = np.random.default_rng([self.scenario.seed & 0xFFFFFFFF, 11])
        shares = {}
        for dev in self.scenario.devices:
            raw = 1 + rng.normal(0, 0.04, 3)
            shares[dev.name] = raw / raw.sum()
        return shares

    def day(self, index: int) -> DaySteps:
        if index in self._days:
            self._days.move_to_end(index)
            return self._days[index]
        known = _TRACED.get((id(self.scenario), self.retrofit, index))
        if known is not None:
            steps = known[1]
        else:
            # The next day is usually asked for next: simulate both in one batch (same cost as one).
            pair = [(index, self.retrofit), (index + 1, self.retrofit)]
            batch = compute_days(self.scenario, pair, trace=True)
            steps = batch.day(0)
            following = batch.day(1)
            _remember(self.scenario, self.retrofit, index + 1, following)
            _remember(self.scenario, self.retrofit, index, steps)
            for day, simulated in ((index, steps), (index + 1, following)):
                remember_day_totals(self.scenario, self.retrofit, day, day_totals(self.scenario, simulated))
        self._days[index] = steps
        if len(self._days) > _CACHE_DAYS:
            self._days.popitem(last=False)
        return steps

    def _device_day(self, index: int, device: DeviceSpec) -> _DeviceDay:
        key = (index, device.name)
        if key not in self._device_days:
            inc = device_step_increments(self.scenario, device, self.day(index))
            before = {k: np.concatenate([[0.0], np.cumsum(v)[:-1]]) for k, v in inc.items()}
            self._device_days[key] = _DeviceDay(inc, before)
            if len(self._device_days) > _CACHE_DAYS * max(1, len(self.scenario.devices)):
                self._device_days.popitem(last=False)
        return self._device_days[key]

    def _totals_at_day_start(self, index: int) -> dict[str, dict[str, float]]:
        if index < 0:
            raise ValueError(f"scenario {self.scenario.name}: time is before the scenario start")
        missing = list(range(len(self._day_start_totals) - 1, index))
        unknown = [d for d in missing if _known_totals(self.scenario, self.retrofit, d) is None]
        for first in range(0, len(unknown), _BATCH_DAYS):
            chunk = unknown[first : first + _BATCH_DAYS]
            days = compute_days(self.scenario, [(d, self.retrofit) for d in chunk])
            for member, day in enumerate(chunk):
                remember_day_totals(
                    self.scenario, self.retrofit, day, day_totals(self.scenario, days.day(member))
                )
        for day in missing:
            totals = _known_totals(self.scenario, self.retrofit, day)
            assert totals is not None
            previous = self._day_start_totals[-1]
            self._day_start_totals.append(
                {
                    dev: {k: previous[dev][k] + v for k, v in counters.items()}
                    for dev, counters in totals.items()
                }
            )
        return self._day_start_totals[index]

    def warm(self, t: float) -> None:
        """Compute the day totals up to `t` and the day of `t` now, so that the first request is
        answered quickly."""
        index = self._locate(t)[0]
        self._totals_at_day_start(index)
        self.day(index)

    def _locate(self, t: float) -> tuple[int, int, float]:
        """(day index, step index, seconds into the step) of epoch time t."""
        since = t - self._t_start
        index = math.floor(since / 86400.0)
        into_day = since - index * 86400.0
        step = min(int(into_day // self.scenario.step_s), 86400 // self.scenario.step_s - 1)
        return index, step, into_day - step * self.scenario.step_s

    def counters(self, name: str, t: float) -> dict[str, float]:
        """True counters of a device at time t (unaffected by any fault)."""
        device = self.scenario.device(name)
        index, step, into = self._locate(t)
        start = self._totals_at_day_start(index)[name]
        dd = self._device_day(index, device)
        partial = self._partial_step(device, index, step, into, dd)
        return {k: start[k] + float(dd.before_step[k][step]) + partial[k] for k in start}

    def _partial_step(
        self, device: DeviceSpec, index: int, step: int, into: float, dd: _DeviceDay
    ) -> dict[str, float]:
        step_s = self.scenario.step_s
        if device.kind != "compressor":
            return {k: float(v[step]) * into / step_s for k, v in dd.increments.items()}
        air = self.day(index).air
        assert air is not None
        assert air.trace is not None
        m = self._machine_index(device)
        per_step = round(step_s / air.dt_s)
        first = step * per_step
        whole = min(int(into // air.dt_s), per_step - 1)
        rest = into - whole * air.dt_s
        trace = air.trace
        mode = trace["mode"][first : first + whole + 1, m].astype(np.int64)
        power = trace["power_kw"][first : first + whole + 1, m].astype(np.float64)
        flow = trace["flow_m3min"][first : first + whole + 1, m].astype(np.float64)
        weights = np.full(whole + 1, air.dt_s)
        weights[-1] = rest
        running = (mode >= 1) & (mode <= 3)
        became = trace["mode"][first + 1 : first + whole + 1, m]
        before = mode[:whole]
        return {
            "energy_kwh": float(power @ weights) / 3600,
            "running_h": float(running @ weights) / 3600,
            "loaded_h": float((mode == 3) @ weights) / 3600,
            "fad_m3": float(flow @ weights) / 60,
            "load_cycles": float(((became == 3) & (before != 3) & (before != 0)).sum()),
            "starts": float(((became == 1) & (before == 0)).sum()),
        }

    def _machine_index(self, device: DeviceSpec) -> int:
        assert self.scenario.air is not None
        names = [c.name for c in self.scenario.air.compressors]
        return names.index(str(device.compressor))

    def values(self, name: str, t: float) -> dict[str, float]:
        """Every quantity of a device at time t, under the shipped profiles' point names."""
        device = self.scenario.device(name)
        index, step, into = self._locate(t)
        day = self.day(index)
        counters = self.counters(name, t)
        if device.kind == "meter":
            return self._meter_values(device, day, step, counters, t)
        if device.kind == "compressor":
            return _compressor_values(self.scenario, self._machine_index(device), day, step, into, counters)
        if device.kind == "sensor":
            return _sensor_values(day, step, into)
        rate = float(day.units[step]) * 3600 / self.scenario.step_s
        return {
            "line_state": 1.0 if rate > 0 else 0.0,
            "units_total": math.floor(counters["units"]),
            "units_reject": math.floor(counters["rejects"]),
            "units_good": math.floor(counters["units"]) - math.floor(counters["rejects"]),
            "line_speed_units_per_h": rate,
            "product_code": 101.0,
            "nominal_speed_units_per_h": self.scenario.production_units_per_h,
        }

    def _meter_values(
        self, device: DeviceSpec, day: DaySteps, step: int, counters: dict[str, float], t: float
    ) -> dict[str, float]:
        kw_total = float(self._device_day(self._locate(t)[0], device).increments["import_kwh"][step]) * (
            3600 / day.step_s
        )
        kvar_total = float(self._device_day(self._locate(t)[0], device).increments["import_kvarh"][step]) * (
            3600 / day.step_s
        )
        voltage = float(day.voltage_v[step])
        values = _three_phase(self._phase_shares[device.name], kw_total, kvar_total, voltage)
        values["frequency_hz"] = float(day.frequency_hz[step])
        earlier = self.counters(device.name, max(t - 900.0, self._t_start))["import_kwh"]
        values["active_power_demand_total_kw"] = (counters["import_kwh"] - earlier) * 4.0
        values["total_import_kwh"] = counters["import_kwh"]
        values["total_kwh"] = counters["import_kwh"]
        values["total_import_kvarh"] = counters["import_kvarh"]
        values["total_kvarh"] = counters["import_kvarh"]
        values["total_kvah"] = counters["kvah"]
        values["total_export_kwh"] = 0.0
        values["total_export_kvarh"] = 0.0
        # Per-phase energies (SDM630 V2 30347..30363): the import counter split by the fixed phase
        # shares, so each phase counter only grows and the three add up to the total.
        for phase, share in enumerate(self._phase_shares[device.name], start=1):
            values[f"import_l{phase}_kwh"] = counters["import_kwh"] * float(share)
            values[f"export_l{phase}_kwh"] = 0.0
            values[f"total_l{phase}_kwh"] = counters["import_kwh"] * float(share)
        return values


def _sensor_values(day: DaySteps, step: int, into: float) -> dict[str, float]:
    """The transmitters: outdoor temperature, a humidity that falls as it warms, and the header
    pressure of the compressor room (with the lowest pressure of the physics step so far)."""
    temperature = float(day.temperature_c[step])
    values = {
        "outdoor_temperature_c": temperature,
        "relative_humidity_pct": min(100.0, max(20.0, 95.0 - 1.5 * temperature)),
    }
    if day.air is not None and day.air.trace is not None:
        pressure, lowest = _header_pressure(day.air, day.step_s, step, into)
        values["header_pressure_bar"] = pressure
        values["header_pressure_min_bar"] = lowest
    return values


def _header_pressure(air: AirDay, step_s: int, step: int, into: float) -> tuple[float, float]:
    """Header pressure at a moment (linear between engine steps), and its minimum since the step began."""
    assert air.trace is not None
    trace = air.trace["pressure_bar"]
    per_step = round(step_s / air.dt_s)
    i = step * per_step + min(int(into // air.dt_s), per_step - 1)
    frac = min(1.0, (into - (i - step * per_step) * air.dt_s) / air.dt_s)
    after = float(trace[i + 1]) if i + 1 < len(trace) else float(trace[i])
    pressure = float(trace[i]) + (after - float(trace[i])) * frac
    lowest = min(float(trace[step * per_step : i + 1].min()), pressure)
    return pressure, lowest


def _three_phase(shares: FloatArray, kw: float, kvar: float, voltage: float) -> dict[str, float]:
    out: dict[str, float] = {}
    unbalance = (0.0, 0.006, -0.004)
    currents = []
    phasor_sum = 0j
    for phase in range(3):
        n = phase + 1
        p, q = kw * float(shares[phase]), kvar * float(shares[phase])
        s = math.hypot(p, q)
        v = voltage * (1 + unbalance[phase])
        amps = s * 1000 / v if v > 0 else 0.0
        pf = p / s if s > 0 else 1.0
        angle = math.degrees(math.atan2(q, p)) if s > 0 else 0.0
        phasor_sum += amps * complex(
            math.cos(math.radians(-angle - 120 * phase)), math.sin(math.radians(-angle - 120 * phase))
        )
        currents.append(amps)
        out |= {
            f"voltage_l{n}_n_v": v,
            f"current_l{n}_a": amps,
            f"active_power_l{n}_kw": p,
            f"reactive_power_l{n}_kvar": q,
            f"apparent_power_l{n}_kva": s,
            f"power_factor_l{n}": pf,
            f"phase_angle_l{n}_deg": angle,
            f"thd_voltage_l{n}_n_pct": 2.1 + 0.2 * phase,
            f"thd_current_l{n}_pct": 6.0 + 3.0 * phase,
        }
    s_total = math.hypot(kw, kvar)
    v_avg = sum(out[f"voltage_l{n}_n_v"] for n in (1, 2, 3)) / 3
    ll = [
        math.sqrt(
            out[f"voltage_l{a}_n_v"] ** 2
            + out[f"voltage_l{b}_n_v"] ** 2
            + out[f"voltage_l{a}_n_v"] * out[f"voltage_l{b}_n_v"]
        )
        for a, b in ((1, 2), (2, 3), (3, 1))
    ]
    return out | {
        "voltage_ln_avg_v": v_avg,
        "current_avg_a": sum(currents) / 3,
        "current_sum_a": sum(currents),
        "current_n_a": abs(phasor_sum),
        "active_power_total_kw": kw,
        "reactive_power_total_kvar": kvar,
        "apparent_power_total_kva": s_total,
        "power_factor_total": kw / s_total if s_total > 0 else 1.0,
        "phase_angle_total_deg": math.degrees(math.atan2(kvar, kw)) if s_total > 0 else 0.0,
        "voltage_l1_l2_v": ll[0],
        "voltage_l2_l3_v": ll[1],
        "voltage_l3_l1_v": ll[2],
        "voltage_ll_avg_v": sum(ll) / 3,
        "thd_voltage_ln_avg_pct": 2.3,
        "thd_current_avg_pct": 9.0,
    }


def _compressor_values(
    scenario: Scenario, m: int, day: DaySteps, step: int, into: float, counters: dict[str, float]
) -> dict[str, float]:
    assert scenario.air is not None
    assert day.air is not None
    assert day.air.trace is not None
    spec = scenario.air.compressors[m]
    air, trace = day.air, day.air.trace
    per_step = round(day.step_s / air.dt_s)
    i = step * per_step + min(int(into // air.dt_s), per_step - 1)
    mode = int(trace["mode"][i, m])
    power = float(trace["power_kw"][i, m])
    flow = float(trace["flow_m3min"][i, m])
    pressure, _ = _header_pressure(air, day.step_s, step, into)
    loaded, running = mode == 3, 1 <= mode <= 3
    share = flow / spec.fad_m3min
    # Starts in the last hour (of this day: each day's room starts from the canonical state).
    recent = trace["mode"][max(0, i - round(3600 / air.dt_s)) : i + 1, m]
    starts_last_hour = int(((recent[1:] == 1) & (recent[:-1] == 0)).sum())
    pf = 0.87 if loaded else 0.45
    if spec.kind == "vsd":
        speed_pct = 100 * (share if loaded else spec.min_speed) if running else 0.0
    else:
        speed_pct = 100.0 if running else 0.0
    return {
        "state": 2.0 if loaded else (1.0 if running else 0.0),
        "alarm_word": 1.0 if mode == 4 else 0.0,
        "discharge_pressure_bar": pressure,
        "discharge_temperature_c": 72 + 16 * share if running else 35.0,
        "active_power_kw": power,
        "fad_m3_min": flow,
        "running_hours_h": counters["running_h"],
        "loaded_hours_h": counters["loaded_h"],
        "energy_kwh": counters["energy_kwh"],
        "load_cycles": math.floor(counters["load_cycles"] + 1e-9),
        "total_fad_m3": counters["fad_m3"],
        "starts_total": math.floor(counters["starts"] + 1e-9),
        "motor_speed_rpm": _MAX_RPM * speed_pct / 100,
        "speed_pct": speed_pct,
        "drive_temperature_c": 38 + 10 * share if running else 30.0,
        "motor_current_a": power * 1000 / (math.sqrt(3) * 380 * pf) if running else 0.0,
        "motor_rated_kw": spec.rated_kw,
        "rated_fad_m3_min": spec.fad_m3min,
        "rated_pressure_bar": spec.rated_bar,
        "min_speed_rpm": _MAX_RPM * spec.min_speed,
        "max_speed_rpm": _MAX_RPM,
        "load_pressure_setpoint_bar": float(air.load_bar[m]),
        "unload_pressure_setpoint_bar": float(air.unload_bar[m]),
        "target_pressure_setpoint_bar": float(air.target_bar[m]),
        "remote_enabled": 1.0 if air.sequenced or spec.remote_enabled else 0.0,
        "control_source": 1.0 if air.sequenced else 0.0,
        "starts_last_hour": float(starts_last_hour),
    }
