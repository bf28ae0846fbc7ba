"""`HistorySource`: the dashboard's JSON over the site's M&V model (`agent.mv.MvModel`).

A thin adapter: site energy, production, energy per unit, the baseline and the savings come from
the model as typed results and are only turned into JSON here, so the dashboard, the report and
`energy-agent savings` (which all read this class) show what the rating computes from the same
model. The store is opened per call (SQLite connections belong to one thread, and the web server
answers from a thread pool); the model caches the baseline fit and each savings window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from agent.analytics import (
    BaselineModel,
    MeterTree,
    absolute_uncertainty,
    aggregate,
    cost,
)
from agent.analytics.compressors import CompressorKpis, machine_air, specific_power_note
from agent.analytics.errors import AnalyticsError
from agent.analytics.intervals import period_keys
from agent.analytics.windows import local_day_bounds
from agent.config.analytics import CompressorSpec
from agent.history.store import HistoryStore
from agent.mv.metering import metering_coverage
from agent.mv.model import MvModel, compressed_air_room
from agent.mv.results import Baseline, PeriodFigures, Savings
from agent.web.air_trace import PressureBand, compressor_trace
from agent.web.jsonable import jsonable_dict
from agent.web.source import (
    DashboardSettings,
    JsonDict,
    LiveState,
    MetricSample,
    RatingProvider,
    control_status,
)

__all__ = ["HistorySource", "savings_json"]

_FREQS = {"interval", "hour", "day", "month"}
_MAX_INTERVAL_DAYS = 31  # longer windows are served hourly: a browser chart of 10^5 points crawls


class HistorySource:
    """`DashboardSource` over one history file (+ optional live state and rating provider)."""

    def __init__(
        self,
        history_path: Path | str,
        settings: DashboardSettings,
        *,
        live: LiveState | None = None,
        rating: RatingProvider | None = None,
        clock: Callable[[], pd.Timestamp] | None = None,
        cache_seconds: float = 60.0,
    ) -> None:
        self.history_path = Path(history_path)
        self.settings = settings
        self.live = live
        self.rating_provider = rating
        self._clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))
        self.model = MvModel(settings.mv, self.history_path, cache_seconds=cache_seconds)

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _store(self) -> Iterator[HistoryStore]:
        with self.model.store() as store:
            yield store

    @property
    def _tz(self) -> str:
        return self.settings.timezone

    @property
    def _interval_min(self) -> int:
        return self.settings.analytics.interval_minutes

    def now(self, store: HistoryStore | None = None) -> pd.Timestamp:
        """'Now': the clock, or in replay mode the end of the history."""
        if not self.settings.replay:
            return self._clock()
        if store is None:
            with self._store() as opened:
                return self.now(opened)
        span = store.span()
        return span[1] if span else self._clock()

    def _local_midnight(self, ts: pd.Timestamp) -> pd.Timestamp:
        return ts.tz_convert(self._tz).normalize().tz_convert("UTC")

    def _month_start(self, ts: pd.Timestamp) -> pd.Timestamp:
        local = ts.tz_convert(self._tz).normalize()
        return (local - pd.Timedelta(days=local.day - 1)).tz_convert("UTC")

    def _named(
        self, store: HistoryStore, name: str, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.Series | None:
        frame = store.series([name], start, end)
        column = frame[name] if name in frame.columns else None
        return None if column is None or column.isna().all() else column

    # ------------------------------------------------------------ overview

    def overview(self) -> JsonDict:
        with self._store() as store:
            now = self.now(store)
            meters = self.model.site_meters(store)
            if not meters or not store.devices():
                return {"available": False, "reason": "the history holds no site energy yet", "now": now}
            day0, month0 = self._local_midnight(now), self._month_start(now)
            site = self.model.site_energy(store, min(month0, now - pd.Timedelta(days=1)), now)
            today = self.model.figures(day0, now, store)
            month = self.model.figures(month0, now, store)
            status = self._device_states(store, now)
        return jsonable_dict(
            {
                "available": True,
                "site": self.settings.display_name or self.settings.site,
                "now": now,
                "timezone": self._tz,
                "site_meter": " + ".join(meters),
                "site_meters": list(meters),
                "power": self._power_now(meters, site),
                "today": {
                    **self._period_energy(site[site.index >= day0], today),
                    **self._day_elapsed(day0, now),
                },
                "month": self._period_energy(site[site.index >= month0], month),
                "baseline_eui_kwh_per_unit": self._baseline_eui(),
                "production_unit": self.settings.mv.production_unit,
                "savings_to_date": self._savings_summary(),
                "rating": self._rating_summary(now),
                "devices": _count_states(status),
                "power_trend": self._power_trend(site, now),
            }
        )

    def _live_power(self, meter: str) -> Any:
        assert self.live is not None
        powers = [
            value
            for value in self.live.latest_values().get(meter, ())
            if value.unit.lower() == "kw"
            and "power" in value.point
            and value.quality == "good"
            and isinstance(value.value, int | float)
        ]
        # The site's power is the meter's instantaneous total: never one phase, never a demand average.
        powers.sort(
            key=lambda v: (
                v.point != "active_power_total_kw",
                "total" not in v.point,
                "demand" in v.point,
            )
        )
        return powers[0] if powers else None

    def _power_now(self, meters: Sequence[str], site: pd.Series) -> JsonDict:
        if self.live is not None:
            readings = [self._live_power(meter) for meter in meters]
            if readings and all(r is not None for r in readings):  # the site is every site meter, or none
                points = ", ".join(f"{m} {r.point}" for m, r in zip(meters, readings, strict=True))
                return {
                    "kw": float(sum(r.value for r in readings)),
                    "method": f"live reading {points}"
                    if len(meters) > 1
                    else f"live reading {readings[0].point}",
                    "ts": min(r.ts for r in readings),
                }
        valid = site.dropna()
        if valid.empty:
            return {"kw": None, "method": "no data"}
        return {
            "kw": float(valid.iloc[-1]) * 60.0 / self._interval_min,
            "method": "mean power of the last interval",
            "ts": valid.index[-1],
        }

    def _period_energy(self, energy: pd.Series, figures: PeriodFigures) -> JsonDict:
        priced = (
            cost(energy.dropna(), self.settings.analytics.tariff, self._tz) if energy.notna().any() else None
        )
        return {
            "energy_kwh": figures.energy_kwh,
            "cost_yuan": priced.total_yuan if priced else 0.0,
            "by_period": priced.by_period.reset_index().to_dict(orient="records") if priced else [],
            "production": figures.production,
            "eui_kwh_per_unit": figures.eui_kwh_per_unit,
            "completeness": figures.completeness,
            "intervals_expected_so_far": figures.intervals_expected,
        }

    def _day_elapsed(self, day0: pd.Timestamp, now: pd.Timestamp) -> JsonDict:
        """How much of today has passed: today's EUI is a partial day's and says so."""
        local = day0.tz_convert(self._tz)
        day_end = (local + pd.Timedelta(hours=36)).normalize()  # next local midnight (23/25 h days too)
        length_h = (day_end - local) / pd.Timedelta(hours=1)
        elapsed_h = min(length_h, (now - day0) / pd.Timedelta(hours=1))
        return {"partial": elapsed_h < length_h, "elapsed_h": elapsed_h, "day_h": length_h}

    def _power_trend(self, site: pd.Series, now: pd.Timestamp) -> JsonDict:
        last = site[site.index >= now - pd.Timedelta(days=1)]
        local = pd.DatetimeIndex(last.index).tz_convert(self._tz).tz_localize(None)
        return {"x": [t.isoformat() for t in local], "kw": (last * 60.0 / self._interval_min).tolist()}

    def _rating_summary(self, now: pd.Timestamp) -> JsonDict | None:
        rating = self.rating(str(now.tz_convert(self._tz).year))
        if not rating.get("available"):
            return None
        grade = rating["package"].get("grade", {})
        return {
            "grade": grade.get("grade"),
            "points": rating["package"].get("total", {}).get("points"),
            "provisional": bool(rating["package"].get("provisional")),
        }

    # ------------------------------------------------------------ devices

    def _device_states(self, store: HistoryStore, now: pd.Timestamp) -> dict[str, JsonDict]:
        if self.live is not None:
            return {s.device: _status_dict(s) for s in self.live.device_status()}
        recent = store.energy(start=now - pd.Timedelta(days=2), end=now)
        stale_after = pd.Timedelta(minutes=2 * self._interval_min)
        states: dict[str, JsonDict] = {}
        for device in store.devices():
            seen = recent[device].dropna() if device in recent.columns else pd.Series(dtype=float)
            last_end = seen.index[-1] + pd.Timedelta(minutes=self._interval_min) if len(seen) else None
            online = last_end is not None and now - last_end <= stale_after
            states[device] = {
                "state": "online" if online else "offline",
                "last_success": last_end,
                "source": "history (no live state)",
            }
        return states

    def devices(self) -> JsonDict:
        with self._store() as store:
            now = self.now(store)
            states = self._device_states(store, now)
            month = store.energy(start=self._month_start(now), end=now)
            last = store.energy(start=now - pd.Timedelta(days=1), end=now)
        live_values = self.live.latest_values() if self.live is not None else {}
        names = sorted(set(states) | set(month.columns) | set(self.settings.parents))
        rows = [
            {
                "device": name,
                "parent": self.settings.parents.get(name),
                **states.get(name, {"state": "unknown"}),
                "month_kwh": float(month[name].sum()) if name in month.columns else None,
                "values": self._values(name, live_values, last),
            }
            for name in names
        ]
        return jsonable_dict({"now": now, "devices": rows, "tree": self._tree(month)})

    def _values(self, device: str, live: Mapping[str, Any], last: pd.DataFrame) -> list[JsonDict]:
        if device in live:
            return [asdict(v) for v in live[device]]
        seen = last[device].dropna() if device in last.columns else pd.Series(dtype=float)
        if seen.empty:
            return []
        kwh = float(seen.iloc[-1])
        ts = seen.index[-1]
        return [
            {
                "point": "interval_energy",
                "value": kwh,
                "unit": "kWh",
                "quality": "good",
                "reason": None,
                "ts": ts,
            },
            {
                "point": "mean_power",
                "value": kwh * 60.0 / self._interval_min,
                "unit": "kW",
                "quality": "good",
                "reason": None,
                "ts": ts,
            },
        ]

    def _tree(self, month: pd.DataFrame) -> JsonDict:
        coverage = self._coverage()
        parents = {m: p for m, p in self.settings.parents.items() if m in month.columns}
        parents = {m: (p if p in parents else None) for m, p in parents.items()}
        if not parents:
            return {"balance": [], "coverage": coverage}
        try:
            tree = MeterTree(parents)
        except AnalyticsError as exc:
            return {"balance": [], "coverage": coverage, "error": str(exc)}
        return {
            "period": "month to date",
            "balance": tree.balance(month.sum()).reset_index().to_dict(orient="records"),
            "coverage": coverage,
            "edition": self.settings.analytics.metering.edition,
        }

    def _coverage(self) -> JsonDict:
        """The GB 17167 configuration rate of `agent.mv.metering`: the rating's `metering_coverage`."""
        edition = self.settings.analytics.metering.edition
        try:
            coverage = metering_coverage(self.settings.mv)
        except AnalyticsError as exc:
            return {"available": False, "reason": str(exc), "edition": edition, "levels": []}
        return {
            "available": True,
            "edition": edition,
            "basis": "configuration",
            "rate_pct": coverage.rate_pct,
            "worst": coverage.worst.level,
            "levels": [
                {
                    "level": lv.level,
                    "installed": lv.installed,
                    "required": lv.required,
                    "share": lv.share,
                    "target": lv.target,
                    "meets": lv.meets,
                }
                for lv in coverage.levels
            ],
        }

    # ------------------------------------------------------------ charts

    def energy(self, start: str | None, end: str | None, freq: str) -> JsonDict:
        if freq not in _FREQS:
            raise ValueError(f"freq must be one of {sorted(_FREQS)}, not {freq!r}")
        with self._store() as store:
            now = self.now(store)
            t1 = _parse_local(end, self._tz) if end else now
            t0 = _parse_local(start, self._tz) if start else t1 - pd.Timedelta(days=7)
            frame = store.energy(start=t0, end=t1)
            site = self.model.figures(t0, t1, store) if t1 > t0 else None
        if freq == "interval" and t1 - t0 > pd.Timedelta(days=_MAX_INTERVAL_DAYS):
            freq = "hour"
        if freq == "interval":
            local = pd.DatetimeIndex(frame.index).tz_convert(self._tz).tz_localize(None)
            out = frame.set_axis(local)
        else:
            out = aggregate(frame, freq, self._tz) if len(frame) else frame  # type: ignore[arg-type]
        return jsonable_dict(
            {
                "freq": freq,
                "unit": "kWh",
                "x": [pd.Timestamp(t).isoformat() for t in out.index],
                "series": {str(c): out[c].tolist() for c in out.columns},
                "site": None if site is None else site.to_dict(),
                # a window reaching past 'now' holds a partial day: its per-unit figures are not
                # comparable with whole days (issue 20: "EUI today +1,071 %" on a Sunday morning)
                "partial": bool(t1 > now),
                "through": min(t1, now).tz_convert(self._tz).tz_localize(None).isoformat(),
            }
        )

    # ------------------------------------------------------------ compressed air

    def compressors(self, days: int = 7, first: date | None = None, last: date | None = None) -> JsonDict:
        """The room's figures (`agent.mv.model.compressed_air_room`, the one definition) in
        `room`, and per machine a time view (state, shares, daily specific power, hourly pressure),
        over the `days` before now, or the local days `first`..`last` (the report's period)."""
        analytics = self.settings.analytics
        if not analytics.compressors:
            return {"available": False, "reason": "no compressors configured (analytics.compressors)"}
        with self._store() as store:
            if first is not None and last is not None:
                t0, t1 = local_day_bounds(first, last, self._tz)
                days = (last - first).days + 1
            else:
                t1 = self.now(store)
                t0 = t1 - pd.Timedelta(days=days)
            frames = self.model.compressor_frames(store, t0, t1)
            production = self.model.production(store, t0, t1)
        try:
            room = compressed_air_room(analytics, frames, production)
        except AnalyticsError as exc:
            return {"available": False, "reason": str(exc)}
        by_spec = {s.device: s for s in analytics.compressors}
        figures = {k.device: k for k in room.machines}
        band = analytics.compressed_air.pressure_band_bar
        return jsonable_dict(
            {
                "available": True,
                "window_days": days,
                "room": {
                    **room.to_dict(),
                    "pressure_band_bar": None if band is None else list(band),
                    "minimum_pressure_bar": analytics.compressed_air.minimum_pressure_bar
                    or analytics.required_pressure_bar,
                },
                "machines": {
                    d: self._machine_view(
                        frames[d].dropna(subset=["kwh", "loaded_h", "running_h"]), by_spec[d], k
                    )
                    for d, k in figures.items()
                },
            }
        )

    def compressor_trace(self, hours: int = 24) -> JsonDict:
        """Header pressure with its band and per machine per interval the load / unload / off
        shares and discharge pressure, over the `hours` before now (agent/web/air_trace.py)."""
        specs = self.settings.analytics.compressors
        if not specs:
            return {"available": False, "reason": "no compressors configured (analytics.compressors)"}
        band, band_source = self._pressure_band()
        minimum, minimum_source = self._minimum_pressure()
        with self._store() as store:
            now = self.now(store)
            trace = compressor_trace(
                store,
                [s.device for s in specs],
                now=now,
                hours=hours,
                interval_min=self._interval_min,
                timezone=self._tz,
                band=band,
                band_source=band_source,
                minimum_bar=minimum,
                minimum_source=minimum_source,
            )
        if not trace["available"]:
            trace["reason"] = f"no compressor or header pressure data in the last {hours} h"
        return jsonable_dict(trace)

    def _pressure_band(self) -> tuple[PressureBand, str]:
        band = self.settings.analytics.compressed_air.pressure_band_bar
        if band is not None:
            return (float(band[0]), float(band[1])), "analytics.compressed_air.pressure_band_bar"
        return None, "not configured (analytics.compressed_air.pressure_band_bar)"

    def _minimum_pressure(self) -> tuple[float | None, str]:
        minimum = self.settings.analytics.compressed_air.minimum_pressure_bar
        if minimum is not None:
            return minimum, "analytics.compressed_air.minimum_pressure_bar"
        required = self.settings.analytics.required_pressure_bar
        if required is not None:
            return required, "analytics.required_pressure_bar"
        return None, "not configured (analytics.compressed_air.minimum_pressure_bar)"

    def _hourly_mean(self, values: pd.Series) -> pd.Series:
        # A mean over the intervals present: dividing a sum by the intervals an hour should hold would
        # pull the current (unfinished) hour and any hour with a gap towards zero bar.
        return values.groupby(period_keys(values.index, "hour", self._tz)).mean()

    def _machine_view(self, frame: pd.DataFrame, spec: CompressorSpec, kpis: CompressorKpis) -> JsonDict:
        last = frame.iloc[-1] if len(frame) else None
        running, loaded = float(frame["running_h"].sum()), float(frame["loaded_h"].sum())
        hours = len(frame) * self._interval_min / 60.0
        air = machine_air(frame, spec, kpis.unloaded_kw).m3
        parts = {
            "kwh": frame["kwh"],
            "air": air,
            "running_h": frame["running_h"],
            "loaded_h": frame["loaded_h"],
        }
        daily = aggregate(pd.DataFrame(parts), "day", self._tz)
        # a day's figure only where that day passes the same rule as the period's
        meaningful = pd.Series(
            [
                specific_power_note(float(r), float(lo), float(a), spec) is None
                for r, lo, a in zip(daily["running_h"], daily["loaded_h"], daily["air"], strict=True)
            ],
            index=daily.index,
            dtype=bool,
        )
        pressure = self._hourly_mean(frame["pressure_bar"]) if "pressure_bar" in frame.columns else None
        return {
            "state": _machine_state(last),
            "shares": {
                "loaded": loaded / hours if hours else None,
                "unloaded": (running - loaded) / hours if hours else None,
                "off": 1 - running / hours if hours else None,
            },
            "state_shares": asdict(kpis.state_shares),
            "control": kpis.control,
            "air_method": kpis.air_method,
            "specific_power_value": kpis.specific_power,
            "specific_power_note": kpis.specific_power_note,
            "grade": kpis.grade,
            "grade_note": kpis.grade_note,
            "flags": list(kpis.flags),
            "specific_power": {
                "x": [t.isoformat() for t in daily.index],
                "kw_per_m3_min": (60.0 * daily["kwh"] / daily["air"].where(meaningful)).tolist(),
                "nameplate": spec.nameplate_specific_power,
                "meaningful": kpis.specific_power is not None,
            },
            "pressure": None
            if pressure is None
            else {"x": [t.isoformat() for t in pressure.index], "bar": pressure.tolist()},
        }

    # ------------------------------------------------------------ savings

    def baseline(self) -> Baseline:
        """The fitted baseline (cached); raises InsufficientData when the data cannot support one."""
        return self.model.baseline()

    def _baseline_eui(self) -> float | None:
        try:
            return self.baseline().eui_kwh_per_unit
        except AnalyticsError:
            return None

    def _savings_summary(self) -> JsonDict | None:
        result = self.savings()
        if not result.get("available"):
            return None
        return {
            **result["value"],
            "band_68_kwh": result["uncertainty"][0]["absolute_kwh"],
            "meets_guideline_14": result["meets_guideline_14"],
            "fraction": result["fraction"],
        }

    def savings(self, start: date | None = None, end: date | None = None) -> JsonDict:
        """Avoided energy from the day after the baseline (or `start`) to today (or `end`)."""
        today = self.now().tz_convert(self._tz).date()
        try:
            outcome = self.model.savings(start, end, today)
        except AnalyticsError as exc:
            return {"available": False, "reason": str(exc)}
        return savings_json(outcome)

    # ------------------------------------------------------------ rating, metrics

    def rating(self, period: str | None = None) -> JsonDict:
        if self.rating_provider is None:
            return {"available": False, "reason": "no rating configured for this site"}
        label = period or str(self.now().tz_convert(self._tz).year)
        try:
            package = self.rating_provider(label)
        except (ValueError, AnalyticsError) as exc:
            return {"available": False, "reason": str(exc), "period": label}
        if package is None:
            return {"available": False, "reason": "no rating inputs for this period", "period": label}
        return {"available": True, "period": label, "package": jsonable_dict(package)}

    def control(self) -> JsonDict:
        """The compressor-room control, live only (nothing of it is read from the history)."""
        return jsonable_dict(control_status(self.live))

    def metrics(self) -> list[MetricSample]:
        samples = list(self.live.agent_metrics()) if self.live is not None else []
        with self._store() as store:
            now = self.now(store)
            states = self._device_states(store, now)
            devices = store.devices()
        samples.append(
            MetricSample("energy_agent_history_devices", float(len(devices)), "Devices in the history.")
        )
        for device, state in states.items():
            labels = {"device": device}
            up = 1.0 if state.get("state") == "online" else 0.0
            samples.append(
                MetricSample("energy_agent_device_up", up, "1 when the device is online.", labels=labels)
            )
            last = state.get("last_success")
            if last is not None:
                seconds = _epoch(last)
                samples.append(
                    MetricSample(
                        "energy_agent_device_data_age_seconds",
                        max(0.0, now.timestamp() - seconds),
                        "Seconds since the device last delivered good data.",
                        labels=labels,
                    )
                )
        return samples


# ---------------------------------------------------------------- helpers


def _parse_local(text: str, tz: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    return (ts.tz_localize(tz) if ts.tzinfo is None else ts).tz_convert("UTC")


def _epoch(value: Any) -> float:
    if isinstance(value, pd.Timestamp):
        return value.timestamp()
    return float(value)


def _status_dict(status: Any) -> JsonDict:
    return {
        "state": status.state,
        "polls": status.polls,
        "failures": status.failures,
        "missed_slots": status.missed_slots,
        "success_rate": status.success_rate,
        "last_success": None
        if status.last_success is None
        else pd.Timestamp(status.last_success, unit="s", tz="UTC"),
        "mean_latency_ms": status.mean_latency_ms,
        "last_error": status.last_error,
        "source": "runtime",
    }


def _count_states(states: Mapping[str, JsonDict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in states.values():
        counts[str(state.get("state"))] = counts.get(str(state.get("state")), 0) + 1
    return counts


_NEEDED = ["kwh", "loaded_h", "running_h"]


def _machine_state(last: pd.Series | None) -> str:
    if last is None:
        return "unknown"
    if not last["running_h"] > 0:
        return "off"
    return "loaded" if last["loaded_h"] >= 0.5 * last["running_h"] else "unloaded"


def savings_json(outcome: Savings) -> JsonDict:
    """The JSON of a savings result (/api/savings, `energy-agent savings --json`, the report)."""
    result, base = outcome.result, outcome.baseline
    totals = result.to_dict()
    verdict = outcome.verdict
    return jsonable_dict(
        {
            "available": True,
            "reporting": {"start": outcome.first, "end": outcome.last},
            "baseline": _baseline_dict(base),
            "acceptance": verdict.acceptance.to_dict(),
            "periods": _periods_with_band(totals["periods"], base.model, result.band(0.68).t),
            **{k: v for k, v in totals.items() if k != "periods"},
            "verdict": {
                "passed": verdict.passed,
                "meets_uncertainty": verdict.meets_uncertainty,
                "failures": verdict.failures(),
                "checks": [] if verdict.checks is None else [c.describe() for c in verdict.checks.checks],
            },
            "value": outcome.value.to_dict(),
            "tariff": {"name": outcome.tariff_name, "source": outcome.tariff_source},
            "adjustments": [a.to_dict() for a in outcome.adjustments],
            "site": outcome.site.to_dict(),
        }
    )


def _baseline_dict(base: Baseline) -> JsonDict:
    model = base.model
    return {
        "window": {"start": base.start, "end": base.end},
        "ipmvp_option": model.ipmvp_option,
        "kind": model.kind,
        "granularity": model.granularity,
        "equation": _equation(model),
        "coefficients": model.coefficients,
        "heating_bp_c": model.heating_bp_c,
        "cooling_bp_c": model.cooling_bp_c,
        "stats": asdict(model.stats),
        "warnings": model.warnings,
        "choice_reason": model.choice_reason,
        "eui_kwh_per_unit": base.eui_kwh_per_unit,
    }


def _equation(model: BaselineModel) -> str:
    terms = [
        f"{value:.4g} x {name}" if name != "intercept" else f"{value:.4g}"
        for name, value in model.coefficients.items()
    ]
    return f"E_day [kWh] = {' + '.join(terms)}"


def _periods_with_band(periods: list[JsonDict], model: BaselineModel, t68: float) -> list[JsonDict]:
    """Cumulative savings with the Annex B 68 % band for the first k periods (it widens with k)."""
    s = model.stats
    out, cumulative_baseline = [], 0.0
    for k, row in enumerate(periods, start=1):
        cumulative_baseline += float(row["adjusted_baseline_kwh"]) + float(row["non_routine_kwh"])
        half = absolute_uncertainty(s.cv_rmse, s.n, k, s.rho, cumulative_baseline, t68)
        cum = float(row["cumulative_savings_kwh"])
        out.append({**row, "band_68_low_kwh": cum - half, "band_68_high_kwh": cum + half})
    return out if all(math.isfinite(r["band_68_low_kwh"]) for r in out) else periods
