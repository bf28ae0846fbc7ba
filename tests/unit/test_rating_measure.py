"""Measured rating indicators from a synthetic history whose answers are known.

The site: a main meter (1000 kWh a day), two line meters (600 + 300) and two equipment meters under
them (570 + 285); 100 t a day of production; October 2026 in Asia/Shanghai; 15-minute intervals.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from agent.config.loader import LoadedConfig, load_config
from agent.history.store import HistoryStore
from agent.rating import default_rubric_path, load_rubric
from agent.rating.provider import NoRatingData, default_history_path, rating_package

TZ = "Asia/Shanghai"
PER_DAY = 96
GENERATED = datetime(2026, 11, 5, tzinfo=UTC)
DAILY_KWH = {"main": 1000.0, "line-1": 600.0, "line-2": 300.0, "press-1": 570.0, "press-2": 285.0}
PARENTS = {"main": None, "line-1": "main", "line-2": "main", "press-1": "line-1", "press-2": "line-2"}


def site_yaml(analytics: str = "", extra_devices: str = "") -> str:
    devices = "".join(
        f"  - {{name: {name}, bus: tcp, unit_id: {i + 1}, profile: eastron/sdm630"
        + (f", parent: {parent}" if parent else "")
        + "}\n"
        for i, (name, parent) in enumerate(PARENTS.items())
    )
    return (
        textwrap.dedent(
            """\
            site: {name: test-plant, timezone: Asia/Shanghai}
            buses:
              - {name: tcp, type: tcp, host: 127.0.0.1}
            sinks:
              local_store: {path: store}
            """
        )
        + "devices:\n"
        + devices
        + extra_devices
        + (f"analytics:\n{textwrap.indent(textwrap.dedent(analytics), '  ')}" if analytics else "")
    )


@dataclass
class Site:
    loaded: LoadedConfig
    history: Path


def make_site(tmp_path: Path, analytics: str = "production: {unit: t}\n", extra_devices: str = "") -> Site:
    path = tmp_path / "site.yaml"
    path.write_text(site_yaml(analytics, extra_devices), encoding="utf-8")
    loaded = load_config(path)
    return Site(loaded, default_history_path(loaded))


def intervals(first: date, days: int) -> pd.DatetimeIndex:
    start = pd.Timestamp(first).tz_localize(TZ).tz_convert("UTC")
    return pd.date_range(start, periods=days * PER_DAY, freq="15min")


def write_days(
    history: Path,
    first: date,
    days: int,
    *,
    daily_kwh: dict[str, float] | None = None,
    units_per_day: float | np.ndarray | None = 100.0,
    kwh_per_day: np.ndarray | None = None,
) -> pd.DatetimeIndex:
    """Flat load within each day; `kwh_per_day` overrides the main meter day by day."""
    index = intervals(first, days)
    loads = dict(daily_kwh or DAILY_KWH)
    frame = pd.DataFrame({name: kwh / PER_DAY for name, kwh in loads.items()}, index=index)
    if kwh_per_day is not None:
        frame["main"] = np.repeat(kwh_per_day / PER_DAY, PER_DAY)
    with HistoryStore(history) as store:
        store.write_energy_frame(frame, 900)
        if units_per_day is not None:
            units = np.broadcast_to(np.asarray(units_per_day, dtype=float), (days,))
            store.write_series("production", pd.Series(np.repeat(units / PER_DAY, PER_DAY), index=index))
    return index


def package(site: Site, period: str = "2026-10") -> dict[str, Any]:
    return rating_package(
        site.loaded, site.history, load_rubric(default_rubric_path()), None, period, GENERATED
    )


def indicator(pkg: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in pkg["indicators"] if i["id"] == key)
    return found


def not_measured(pkg: dict[str, Any], key: str) -> str:
    return next(w for w in pkg["warnings"] if w.startswith(f"not measured: {key}:"))


@pytest.fixture
def october(tmp_path: Path) -> Site:
    site = make_site(tmp_path, "production: {unit: t, output_value_yuan_per_unit: 1000}\n")
    write_days(site.history, date(2026, 10, 1), 31)
    return site


# ---------------------------------------------------------------- energy and carbon per unit


def test_1000_kwh_and_100_t_a_day_give_1_229_kgce_per_t(october: Site) -> None:
    item = indicator(package(october), "unit_product_energy")
    assert item["value"] == pytest.approx(1.229)
    assert item["value_unit"] == "kgce/t"
    assert item["completeness"] == 1.0
    assert "missing" not in item["flags"]
    assert "unit_mismatch" not in item["flags"]
    assert "31000.0 kWh" in item["method"]
    assert "0.1229 kgce/kWh" in item["method"]


def test_carbon_per_unit_uses_the_grid_factor(october: Site) -> None:
    item = indicator(package(october), "unit_product_carbon")
    assert item["value"] == pytest.approx(10.0 * 0.5306)
    assert item["value_unit"] == "kgCO2/t"


def test_a_product_unit_other_than_the_rubrics_is_flagged_not_converted(tmp_path: Path) -> None:
    site = make_site(tmp_path, "production: {unit: pcs}\n")
    write_days(site.history, date(2026, 10, 1), 31)
    item = indicator(package(site), "unit_product_energy")
    assert item["value_unit"] == "kgce/pcs"
    assert "unit_mismatch" in item["flags"]
    assert item["points"] == 0


def test_without_production_the_per_unit_indicators_are_missing_with_the_series_named(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    write_days(site.history, date(2026, 10, 1), 31, units_per_day=None)
    pkg = package(site)
    assert "missing" in indicator(pkg, "unit_product_energy")["flags"]
    assert "'production'" in not_measured(pkg, "unit_product_energy")
    assert indicator(pkg, "data_completeness")["value"] == 100.0


# ---------------------------------------------------------------- output value, year on year


def test_energy_per_output_value_from_the_value_per_unit(october: Site) -> None:
    # 31,000 kWh x 0.1229 = 3.8099 tce over 3,100 t x 1000 yuan = 310 x 10^4 yuan
    item = indicator(package(october), "energy_per_output_value")
    assert item["value"] == pytest.approx(3.8099 / 310.0, abs=1e-6)
    assert item["value_unit"] == "tce/10^4 yuan"


def test_monthly_output_value_entries_override_the_value_per_unit(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        """\
        production:
          unit: t
          output_value_yuan_per_unit: 1000
          output_value: [{month: "2026-10", value_10k_yuan: 500, source: statistics report}]
        """,
    )
    write_days(site.history, date(2026, 10, 1), 31)
    item = indicator(package(site), "energy_per_output_value")
    assert item["value"] == pytest.approx(3.8099 / 500.0, abs=1e-6)  # the package keeps 6 decimals
    assert "statistics report" in item["method"]


def test_missing_output_value_is_flagged_in_the_package(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    write_days(site.history, date(2026, 10, 1), 31)
    pkg = package(site)
    assert "missing" in indicator(pkg, "energy_per_output_value")["flags"]
    assert "output_value" in not_measured(pkg, "energy_per_output_value")
    assert pkg["provisional"] is True


def test_year_on_year_reduction_against_the_same_month_last_year(october: Site) -> None:
    write_days(october.history, date(2025, 10, 1), 31, daily_kwh={**DAILY_KWH, "main": 1100.0})
    item = indicator(package(october), "unit_energy_yoy_reduction")
    assert item["value"] == pytest.approx((11.0 - 10.0) / 11.0 * 100.0)
    assert item["value_unit"] == "%"


def test_year_on_year_without_last_year_is_flagged(october: Site) -> None:
    pkg = package(october)
    assert indicator(pkg, "unit_energy_yoy_reduction")["value"] is None
    assert "2025" in not_measured(pkg, "unit_energy_yoy_reduction")


# ---------------------------------------------------------------- completeness, coverage


def test_a_missing_day_lowers_data_completeness_and_every_measured_completeness(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    write_days(site.history, date(2026, 10, 1), 10)
    write_days(site.history, date(2026, 10, 12), 20)  # 11 October is lost
    pkg = package(site)
    assert indicator(pkg, "data_completeness")["value"] == pytest.approx(30 / 31 * 100, abs=1e-6)
    assert indicator(pkg, "unit_product_energy")["completeness"] == pytest.approx(30 / 31, abs=1e-6)
    # the energy is what was metered, not filled in: 30 days over 30 days of production
    assert indicator(pkg, "unit_product_energy")["value"] == pytest.approx(1.229)


def test_a_running_month_counts_only_the_intervals_that_could_exist(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    write_days(site.history, date(2026, 10, 1), 10)
    now = pd.Timestamp(date(2026, 10, 11)).tz_localize(TZ).to_pydatetime()
    pkg = rating_package(site.loaded, site.history, load_rubric(default_rubric_path()), None, "2026-10", now)
    assert indicator(pkg, "data_completeness")["value"] == pytest.approx(100.0)


REQUIRED = "production: {unit: t}\nmetering: {required_points: {electricity: [1, 2, 3]}}\n"


def test_metering_coverage_is_the_configuration_rate_of_the_worst_level(tmp_path: Path) -> None:
    # tree: main (site boundary) -> line-1, line-2 (secondary units) -> press-1, press-2 (equipment).
    # The audit requires 1 / 2 / 3 points: equipment 2 of 3 = 66.7 % against a 95 % target is the worst.
    site = make_site(tmp_path, REQUIRED)
    write_days(site.history, date(2026, 10, 1), 31)
    item = indicator(package(site), "metering_coverage")
    assert item["value"] == pytest.approx(2 / 3 / 0.95 * 100.0)
    assert "worst level major_equipment" in item["method"]
    assert "2/3" in item["method"]
    assert "GB 17167-2006" in item["method"]


def test_metering_coverage_does_not_fall_when_a_metered_load_saves_energy(tmp_path: Path) -> None:
    site = make_site(tmp_path, REQUIRED)
    write_days(site.history, date(2026, 10, 1), 31, daily_kwh={**DAILY_KWH, "press-1": 100.0})
    assert indicator(package(site), "metering_coverage")["value"] == pytest.approx(2 / 3 / 0.95 * 100.0)


def test_metering_coverage_without_the_required_points_is_not_measured(october: Site) -> None:
    item = indicator(package(october), "metering_coverage")
    assert item["value"] is None
    assert "missing" in item["flags"]


# ---------------------------------------------------------------- verified savings


BASELINE = """\
production: {unit: t}
baseline: {period_start: 2026-06-01, period_end: 2026-10-01}
"""


def _savings_site(tmp_path: Path, noise: float) -> Site:
    site = make_site(tmp_path, BASELINE)
    rng = np.random.default_rng(7)
    days = 153  # June to October
    units = rng.uniform(60.0, 140.0, days)
    kwh = (200.0 + 8.0 * units) * (1.0 + noise * rng.standard_normal(days))
    kwh[122:] *= 0.9  # October: 10 % saved
    write_days(site.history, date(2026, 6, 1), days, units_per_day=units, kwh_per_day=kwh)
    return site


def test_verified_savings_rate_recovers_the_known_ten_percent(tmp_path: Path) -> None:
    item = indicator(package(_savings_site(tmp_path, noise=0.01)), "verified_savings_rate")
    assert item["value"] == pytest.approx(10.0, abs=0.5)
    assert "IPMVP Option C" in item["method"]
    assert "2026-06-01..2026-09-30" in item["method"]


def test_savings_do_not_count_when_the_baseline_fails_guideline_14(tmp_path: Path) -> None:
    pkg = package(_savings_site(tmp_path, noise=0.4))
    assert indicator(pkg, "verified_savings_rate")["value"] is None
    assert "Guideline 14" in not_measured(pkg, "verified_savings_rate")


def test_without_a_baseline_period_the_reason_names_the_setting(october: Site) -> None:
    assert "analytics.baseline.period_end" in not_measured(package(october), "verified_savings_rate")


# ---------------------------------------------------------------- compressed air, no data


def test_compressor_room_specific_power_from_its_series(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        """\
        production: {unit: t}
        compressors: [{device: comp-1, rated_power_kw: 75, rated_fad_m3_min: 10}]
        """,
        extra_devices="  - {name: comp-1, bus: tcp, unit_id: 9, profile: eastron/sdm630, parent: line-1}\n",
    )
    index = write_days(site.history, date(2026, 10, 1), 31)
    with HistoryStore(site.history) as store:
        # loaded all the time: 15 kWh and 150 m3 of free air per quarter hour = 60 kW / 10 m3/min
        store.write_energy_frame(pd.DataFrame({"comp-1": 15.0}, index=index), 900)
        for name, value in (("loaded_h", 0.25), ("running_h", 0.25), ("air_m3", 150.0)):
            store.write_series(f"comp-1.{name}", pd.Series(value, index=index))
    item = indicator(package(site), "compressed_air_specific_power")
    assert item["value"] == pytest.approx(6.0)
    assert item["value_unit"] == "kW/(m3/min)"


def test_a_vsd_without_a_flow_meter_is_rated_on_its_power_to_flow_curve(tmp_path: Path) -> None:
    site = make_site(
        tmp_path,
        """\
        production: {unit: t}
        compressors:
          - {device: comp-1, rated_power_kw: 75, rated_fad_m3_min: 10, control: vsd,
             flow_curve: [[20, 2], [50, 7], [75, 10]]}
        """,
        extra_devices="  - {name: comp-1, bus: tcp, unit_id: 9, profile: eastron/sdm630, parent: line-1}\n",
    )
    index = write_days(site.history, date(2026, 10, 1), 31)
    with HistoryStore(site.history) as store:
        # loaded all the time at 50 kW: the curve says 7 m3/min (rated FAD would say 10)
        store.write_energy_frame(pd.DataFrame({"comp-1": 12.5}, index=index), 900)
        for name in ("loaded_h", "running_h"):
            store.write_series(f"comp-1.{name}", pd.Series(0.25, index=index))
    item = indicator(package(site), "compressed_air_specific_power")
    assert item["value"] == pytest.approx(50.0 / 7.0)
    assert "power-to-flow curve" in item["method"]


def test_without_compressors_specific_power_is_not_measured(october: Site) -> None:
    assert "analytics.compressors" in not_measured(package(october), "compressed_air_specific_power")


def test_a_period_without_site_energy_raises_no_rating_data(october: Site) -> None:
    with pytest.raises(NoRatingData, match="2026-09"):
        package(october, "2026-09")


def test_a_missing_history_file_raises_no_rating_data(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    with pytest.raises(NoRatingData, match="no history store"):
        package(site)
    assert not site.history.exists()


# ---------------------------------------------------------------- provisional (issue 20)


def reasons(pkg: dict[str, Any]) -> dict[str, list[str]]:
    return {r["code"]: r["indicators"] for r in pkg["provisional_reasons"]}


def test_year_on_year_from_a_few_days_of_last_year_scores_as_missing(october: Site) -> None:
    # three days of last October (10 %) with more energy: a 9 % reduction that must not earn points
    write_days(october.history, date(2025, 10, 1), 3, daily_kwh={**DAILY_KWH, "main": 1100.0})
    pkg = package(october)
    item = indicator(pkg, "unit_energy_yoy_reduction")
    assert item["value"] == pytest.approx((11.0 - 10.0) / 11.0 * 100.0)
    assert item["completeness"] == pytest.approx(3 / 31, abs=1e-6)
    assert item["flags"] == ["low_completeness"]
    assert item["points"] == 0
    assert pkg["provisional"] is True
    assert reasons(pkg)["low_completeness"] == ["unit_energy_yoy_reduction"]
    assert any("scored 0, as missing" in w for w in pkg["warnings"])


def test_low_site_data_completeness_makes_the_rating_provisional(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    write_days(site.history, date(2026, 10, 1), 20)  # 20 of 31 days
    pkg = package(site)
    assert indicator(pkg, "data_completeness")["value"] == pytest.approx(20 / 31 * 100, abs=1e-6)
    found = reasons(pkg)
    assert found["low_coverage"] == ["data_completeness"]
    assert "unit_product_energy" in found["low_completeness"]
    assert indicator(pkg, "unit_product_energy")["points"] == 0


def test_a_running_month_is_provisional_and_an_ended_one_is_not_for_that_reason(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    write_days(site.history, date(2026, 10, 1), 31)
    rubric = load_rubric(default_rubric_path())
    during = pd.Timestamp("2026-10-31T23:00", tz=TZ).to_pydatetime()  # 15:00 UTC: still October locally
    after = pd.Timestamp("2026-11-01T00:30", tz=TZ).to_pydatetime()  # still 31 October in UTC
    running = rating_package(site.loaded, site.history, rubric, None, "2026-10", during)
    ended = rating_package(site.loaded, site.history, rubric, None, "2026-10", after)
    assert "period_incomplete" in reasons(running)
    assert "period_incomplete" not in reasons(ended)
    assert "unofficial_rubric" in reasons(ended)  # the shipped rubric is an editable default


# ---------------------------------------------------------------- one coverage figure (issue 20)


def _views(site: Site) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Devices page's coverage (/api/devices) and the rating page's package (/api/rating)."""
    import warnings

    from agent.rating.site import site_rating_provider
    from agent.web import HistorySource, create_app
    from agent.web.settings import settings_for

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's test client warns about its own httpx transport
        from fastapi.testclient import TestClient

    source = HistorySource(
        site.history,
        settings_for(site.loaded.config, config_path=site.loaded.path),
        rating=site_rating_provider(site.loaded, site.history),
        clock=lambda: pd.Timestamp("2026-11-05T00:00Z"),
    )
    client = TestClient(create_app(source))
    devices = client.get("/api/devices").json()["tree"]["coverage"]
    rated = client.get("/api/rating", params={"period": "2026-10"}).json()["package"]
    return devices, rated


def test_devices_page_and_rating_show_the_same_metering_coverage(tmp_path: Path) -> None:
    # press-1 saves most of its energy: an energy-share figure would fall, the configuration rate does not
    site = make_site(tmp_path, REQUIRED)
    write_days(site.history, date(2026, 10, 1), 31, daily_kwh={**DAILY_KWH, "press-1": 10.0})
    devices, rated = _views(site)
    item = indicator(rated, "metering_coverage")
    assert devices["available"] is True
    assert devices["rate_pct"] == pytest.approx(2 / 3 / 0.95 * 100.0)
    assert item["value"] == pytest.approx(devices["rate_pct"], abs=1e-6)  # the package keeps 6 decimals
    assert devices["worst"] == "major_equipment"
    assert [(lv["level"], lv["installed"], lv["required"], lv["meets"]) for lv in devices["levels"]] == [
        ("site", 1, 1, True),
        ("secondary_units", 2, 2, True),
        ("major_equipment", 2, 3, False),
    ]
    assert devices["basis"] == "configuration"


def test_without_required_points_neither_view_shows_a_coverage_figure(october: Site) -> None:
    devices, rated = _views(october)
    assert devices["available"] is False
    assert "required_points" in devices["reason"]
    assert indicator(rated, "metering_coverage")["value"] is None
    assert "required_points" in not_measured(rated, "metering_coverage")
