"""The daily KPIs (agent.mv.kpi) from a synthetic history whose answers are known, and the runtime's
once-per-closed-day rule (agent.runtime.kpi) with a plain sink."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from agent.mv.kpi import day_kpis
from agent.mv.model import MvModel
from agent.mv.site import mv_site
from agent.runtime.kpi import KpiPublisher
from agent.sinks.payloads import kpi_payload
from tests.unit.test_rating_measure import DAILY_KWH, TZ, Site, make_site, write_days

SCHEMA = jsonschema.Draft202012Validator(
    json.loads((Path(__file__).resolve().parents[2] / "schemas/mqtt/kpi.schema.json").read_text("utf-8"))
)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    made = make_site(tmp_path)
    write_days(made.history, date(2026, 10, 1), 5)  # 1000 kWh and 100 t a day on the site meter
    return made


def model(site: Site) -> MvModel:
    return MvModel(mv_site(site.loaded.config, site.loaded.path), site.history)


def test_a_closed_day_gives_the_sites_energy_production_and_eui(site: Site) -> None:
    kpis = day_kpis(model(site), date(2026, 10, 3), date(2026, 10, 6))
    assert kpis.period == "2026-10-03T00:00:00+08:00/P1D"
    assert kpis.has_energy
    values = kpis.values
    assert values["site_energy_kwh"] == (pytest.approx(DAILY_KWH["main"]), "kWh")
    assert values["production"] == (pytest.approx(100.0), "t")
    assert values["eui_kwh_per_unit"] == (pytest.approx(10.0), "kWh/t")
    assert values["data_completeness_pct"] == (pytest.approx(100.0), "%")
    assert values["savings_to_date_kwh"] == (None, "kWh")  # five days cannot fit a baseline
    assert values["savings_verified"] == (None, "yes=1/no=0")
    SCHEMA.validate(json.loads(kpi_payload("test-plant", 1.0, kpis.period, values)))


def test_a_day_without_data_has_no_energy_and_null_figures(site: Site) -> None:
    kpis = day_kpis(model(site), date(2026, 10, 9), date(2026, 10, 10))
    assert not kpis.has_energy
    assert kpis.values["site_energy_kwh"] == (None, "kWh")
    assert kpis.values["data_completeness_pct"] == (0.0, "%")


class Sink:
    def __init__(self, accept: bool = True) -> None:
        self.sent: list[tuple[float, str, dict[str, tuple[float | None, str]]]] = []
        self.accept = accept

    async def publish_kpi(
        self, ts: float, period: str, values: Mapping[str, tuple[float | None, str]]
    ) -> bool:
        if self.accept:
            self.sent.append((ts, period, dict(values)))
        return self.accept


def test_each_closed_day_is_sent_once_and_an_unacknowledged_one_again(site: Site) -> None:
    now = [pd.Timestamp("2026-10-04T00:10", tz=TZ).to_pydatetime()]

    def clock() -> datetime:
        return now[0]

    sink = Sink(accept=False)
    publisher = KpiPublisher(site.loaded, site.history, sink, clock=clock)
    asyncio.run(publisher.step())
    assert publisher.last_sent is None  # the broker did not take it: try again next step
    sink.accept = True
    asyncio.run(publisher.step())
    asyncio.run(publisher.step())
    now[0] = pd.Timestamp("2026-10-05T08:00", tz=TZ).to_pydatetime()
    asyncio.run(publisher.step())
    assert [period for _, period, _ in sink.sent] == [
        "2026-10-03T00:00:00+08:00/P1D",
        "2026-10-04T00:00:00+08:00/P1D",
    ]
    now[0] = pd.Timestamp("2026-10-12T08:00", tz=TZ).to_pydatetime()  # 11 October has no data
    asyncio.run(publisher.step())
    assert len(sink.sent) == 2


def test_an_empty_history_sends_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    sink = Sink()
    publisher = KpiPublisher(site.loaded, site.history, sink)
    asyncio.run(publisher.step())
    assert sink.sent == []


def test_a_site_with_compressors_and_a_baseline_gets_every_kpi_from_the_one_model(tmp_path: Path) -> None:
    from agent.analytics.windows import local_day_bounds
    from agent.mv.model import compressed_air_room
    from tests.e2e.synthetic import build_site

    synthetic = build_site(tmp_path / "history.sqlite")
    mv = MvModel(synthetic.settings.mv, synthetic.path)
    day, today = date(2025, 10, 1), date(2025, 10, 15)
    kpis = day_kpis(mv, day, today)
    start, end = local_day_bounds(day, day, mv.site.timezone)
    with mv.store() as store:
        room = compressed_air_room(
            mv.site.analytics, mv.compressor_frames(store, start, end), mv.production(store, start, end)
        )
    assert kpis.values["compressed_air_specific_power"] == (room.specific_power, "kW/(m3/min)")
    outcome = mv.savings(None, day, today)
    assert kpis.values["savings_to_date_kwh"] == (outcome.result.savings_kwh, "kWh")
    assert kpis.values["savings_verified"] == (1.0 if outcome.verdict.passed else 0.0, "yes=1/no=0")
    SCHEMA.validate(json.loads(kpi_payload("synthetic-plant", 1.0, kpis.period, kpis.values)))
