"""The live recorder: poll results -> history series by role, written from a worker thread."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytest

from agent.config.loader import LoadedConfig, load_config
from agent.history.store import EnergyRow, HistoryStore, SeriesRow
from agent.readings.model import PollResult, Readings
from agent.runtime.delivery import Delivery
from agent.runtime.recorder import HistoryWriter, LiveRecorder

SITE = """\
site: {name: plant, timezone: Asia/Shanghai}
buses:
  - {name: tcp1, type: tcp, host: 127.0.0.1}
devices:
  - {name: main, bus: tcp1, unit_id: 1, profile: eastron/sdm630}
  - {name: line_1, bus: tcp1, unit_id: 2, profile: generic/production_counter, carrier: none}
  - {name: line_2, bus: tcp1, unit_id: 3, profile: generic/production_counter, carrier: none}
  - {name: outside, bus: tcp1, unit_id: 4, profile: generic/temperature_sensor, carrier: none}
  - {name: ac1, bus: tcp1, unit_id: 5, profile: generic/compressor_load_unload}
  - {name: ac2, bus: tcp1, unit_id: 6, profile: generic/compressor_vsd,
     points: [state, discharge_pressure_bar, fad_m3_min]}
  - {name: header, bus: tcp1, unit_id: 7, profile: generic/pressure_transmitter, carrier: none}
analytics:
  production:
    unit: t
    column: tonnes
    sources:
      - {device: line_1, factor: 0.001}
      - {device: line_2, factor: 0.002}
  temperature: {device: outside}
"""


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedConfig:
    path = tmp_path / "site.yaml"
    path.write_text(SITE, encoding="utf-8")
    return load_config(path, env={})


def poll(device: str, ts: float, **values: float | None) -> PollResult:
    names = tuple(values)
    qualities = ["good" if v is not None else "bad" for v in values.values()]
    readings = Readings(names, list(values.values()), ("",) * len(names), qualities, [None] * len(names))
    return PollResult("plant", device, "x", "x", ts, 0, readings)


def test_each_role_is_planned_into_its_series(loaded: LoadedConfig) -> None:
    recorder = LiveRecorder(loaded.config, loaded.registry.get)
    assert recorder.devices == ["ac1", "ac2", "header", "line_1", "line_2", "outside"]  # meters: energy
    assert recorder.series_of("ac1") == [
        "loaded_hours_h -> ac1.loaded_h",
        "running_hours_h -> ac1.running_h",
        "total_fad_m3 -> ac1.air_m3",
        "discharge_pressure_bar -> ac1.pressure_bar",
        "discharge_pressure_bar -> ac1.pressure_min_bar",
    ]
    # ac2 polls no hour counters and no totaliser: the state point and the flow rate stand in
    assert recorder.series_of("ac2") == [
        "state -> ac2.loaded_h",
        "state -> ac2.running_h",
        "fad_m3_min -> ac2.air_m3",
        "discharge_pressure_bar -> ac2.pressure_bar",
        "discharge_pressure_bar -> ac2.pressure_min_bar",
    ]
    assert recorder.series_of("line_1") == ["units_total -> tonnes"]
    assert recorder.series_of("outside") == ["outdoor_temperature_c -> temperature_c"]
    assert recorder.series_of("header") == [
        "header_pressure_bar -> air.header_pressure_bar",
        "header_pressure_bar -> air.header_pressure_min_bar",
    ]


CONTROLLERS_SITE = """\
site: {name: plant, timezone: Europe/Berlin}
buses:
  - {name: tcp1, type: tcp, host: 127.0.0.1}
devices:
  - {name: compair, bus: tcp1, unit_id: 1, profile: compair/delcos_xl}
  - {name: ir, bus: tcp1, unit_id: 2, profile: ingersoll_rand/xe145m}
  - {name: kaeser, bus: tcp1, unit_id: 3, profile: kaeser/sigma_control}
  - {name: datakom, bus: tcp1, unit_id: 4, profile: datakom/dk40}
"""


def test_the_real_compressor_controllers_feed_the_series_their_maps_allow(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(CONTROLLERS_SITE, encoding="utf-8")
    loaded = load_config(path, env={})
    recorder = LiveRecorder(loaded.config, loaded.registry.get)
    assert recorder.series_of("compair") == [
        "loaded_hours_h -> compair.loaded_h",
        "running_hours_h -> compair.running_h",
        "compressor_volume_m3_min -> compair.air_m3",  # the controller's computed delivery
        "line_pressure_bar -> compair.pressure_bar",
        "line_pressure_bar -> compair.pressure_min_bar",
    ]
    assert recorder.series_of("ir") == [
        "loaded_hours_h -> ir.loaded_h",
        "running_hours_h -> ir.running_h",
        "discharge_pressure_bar -> ir.pressure_bar",
        "discharge_pressure_bar -> ir.pressure_min_bar",
    ]
    # no hours or state in the readable process map: pressure only
    assert recorder.series_of("kaeser") == [
        "system_pressure_local_bar -> kaeser.pressure_bar",
        "system_pressure_local_bar -> kaeser.pressure_min_bar",
    ]
    # the pressure has no unit in the register list: hours only
    assert recorder.series_of("datakom") == [
        "loaded_hours_h -> datakom.loaded_h",
        "running_hours_h -> datakom.running_h",
    ]
    # 7.0 m3/min for a quarter of an hour is 105 m3 of air
    for ts in (0, 300, 600):
        recorder.feed(poll("compair", ts, compressor_volume_m3_min=7.0))
    closed = {c.name: c.value for c in recorder.feed(poll("compair", 900, compressor_volume_m3_min=7.0))}
    assert closed["compair.air_m3"] == pytest.approx(105.0)


def test_the_header_pressure_is_recorded_as_its_interval_mean_and_lowest_sample(loaded: LoadedConfig) -> None:
    recorder = LiveRecorder(loaded.config, loaded.registry.get)
    for ts, bar in ((0, 7.0), (300, 6.4), (600, 7.2)):
        assert recorder.feed(poll("header", ts, header_pressure_bar=bar)) == []
    closed = {c.name: c.value for c in recorder.feed(poll("header", 900, header_pressure_bar=7.1))}
    assert closed == {
        # time-weighted: linear between samples (the gauges' trapezoid)
        "air.header_pressure_bar": pytest.approx(((7.0 + 6.4) + (6.4 + 7.2) + (7.2 + 7.1)) / 6),
        "air.header_pressure_min_bar": pytest.approx(6.4),
    }


def test_production_of_two_lines_is_one_series_once_both_have_closed_the_interval(
    loaded: LoadedConfig,
) -> None:
    recorder = LiveRecorder(loaded.config, loaded.registry.get)
    for ts, units in ((0, 0), (450, 500), (900, 1000)):
        assert recorder.feed(poll("line_1", ts, units_total=units)) == []
    for ts, units in ((0, 100), (450, 350)):
        recorder.feed(poll("line_2", ts, units_total=units))
    (closed,) = recorder.feed(poll("line_2", 900, units_total=600))
    assert closed.name == "tonnes"
    assert closed.value == pytest.approx(1000 * 0.001 + 500 * 0.002)
    assert closed.quality == "good"


def test_a_failed_poll_closes_buckets_and_breaks_gauge_integration(loaded: LoadedConfig) -> None:
    recorder = LiveRecorder(loaded.config, loaded.registry.get)
    recorder.feed(poll("outside", 0, outdoor_temperature_c=10.0))
    recorder.feed(poll("outside", 300, outdoor_temperature_c=12.0))
    recorder.feed(poll("outside", 600, outdoor_temperature_c=None))  # sensor fault
    (closed,) = recorder.feed(poll("outside", 900, outdoor_temperature_c=30.0))
    assert (closed.name, closed.value, closed.quality) == ("temperature_c", pytest.approx(11.0), "partial")


class _Recording(HistoryStore):
    """The real store, noting which thread writes and failing while `broken` is set."""

    broken = threading.Event()
    threads: ClassVar[set[str]] = set()

    def write_series_rows(self, rows: Iterable[SeriesRow]) -> int:
        self.threads.add(threading.current_thread().name)
        if self.broken.is_set():
            raise sqlite3.OperationalError("disk I/O error")
        return super().write_series_rows(rows)


async def test_history_is_written_from_the_worker_thread_and_a_failed_write_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent.recorder")
    writer = HistoryWriter(tmp_path / "h.db", open_store=_Recording)
    _Recording.broken.set()
    await writer.write(series=[SeriesRow("temperature_c", 0, 11.0)])
    await writer.write(series=[SeriesRow("temperature_c", 900, 12.0)])
    await writer.drain()
    assert writer.written == 0
    _Recording.broken.clear()
    await writer.write(
        energy=[EnergyRow("main", 0, 900, 5.0)], series=[SeriesRow("temperature_c", 1800, 13.0)]
    )
    await writer.close()
    assert _Recording.threads == {"history-writer_0"}
    assert threading.current_thread().name not in _Recording.threads
    with HistoryStore(tmp_path / "h.db") as store:
        assert store.series(["temperature_c"])["temperature_c"].tolist() == [11.0, 12.0, 13.0]
        assert store.energy()["main"].tolist() == [5.0]
    events = [r.getMessage() for r in caplog.records if "history_write" in r.getMessage()]
    assert len(events) == 2  # failed once (not per batch), recovered once


async def test_delivery_records_series_and_energy_into_the_history(
    loaded: LoadedConfig, tmp_path: Path
) -> None:
    delivery = Delivery(loaded.config, tmp_path / "store", registry=loaded.registry)
    for ts in range(0, 1801, 300):
        await delivery.put(poll("line_1", ts, units_total=ts * 2))
        await delivery.put(poll("line_2", ts, units_total=ts))
    await delivery.flush()
    await delivery.close()
    await asyncio.sleep(0)
    with HistoryStore(tmp_path / "store" / "history.db") as store:
        tonnes = store.series(["tonnes"])["tonnes"]
    assert tonnes.tolist() == pytest.approx([1800 * 0.001 + 900 * 0.002] * 2)
