"""The sequencer's runtime parts with plain values: the room read from the pollers' latest polls
(their real age in the staleness rule), run/stop times kept across a restart (a corrupt file gives
the conservative default), the dashboard's status and the history record."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.config.registry import ProfileRegistry
from agent.config.site import SiteConfig
from agent.control.io import SHUTDOWN_ALARMS, ControlBus, ControlLoop
from agent.control.model import Alarm, Command, Decision
from agent.control.payload import control_payload
from agent.outbox import Outbox
from agent.outbox.codec import decode_result, encode_result
from agent.readings.model import PollResult, Readings
from agent.runtime.control import ControlStatus, control_record
from agent.sinks.payloads import CONTROL_PAYLOAD, line_protocol

T = 1_800_000_000.0
CONTROL_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas/mqtt/control.schema.json").read_text(encoding="utf-8")
)
REGISTRY = ProfileRegistry()


def config(mode: str = "active") -> SiteConfig:
    machine: dict[str, Any] = {"min_run_s": 300, "min_stop_s": 120}
    return SiteConfig.model_validate(
        {
            "site": {"name": "plant"},
            "buses": [{"name": "air", "type": "tcp", "host": "127.0.0.1", "port": 1}],
            "devices": [
                {"name": name, "bus": "air", "unit_id": unit, "profile": profile, "writes_enabled": True}
                for name, unit, profile in (
                    ("c1", 1, "generic/compressor_load_unload"),
                    ("c2", 2, "generic/compressor_vsd"),
                )
            ],
            "control": {
                "mode": mode,
                "rooms": [
                    {
                        "name": "main",
                        "pressure_device": "c2",
                        "minimum_bar": 6.0,
                        "target_bar": 6.9,
                        "band_bar": 0.4,
                        "machines": [
                            {"device": "c1", "kind": "load_unload", "rated_fad_m3_min": 10}
                            | {"rated_power_kw": 55, **machine},
                            {"device": "c2", "kind": "vsd", "rated_fad_m3_min": 8}
                            | {"rated_power_kw": 45, **machine},
                        ],
                    }
                ],
            },
        }
    )


def poll(device: str, ts: float, **values: float) -> PollResult:
    points = tuple(values)
    return PollResult(
        site="plant",
        device=device,
        device_kind="compressor",
        profile="p",
        ts=ts,
        seq=0,
        readings=Readings(points, list(values.values()), ("",) * len(points)),
        requested_at=ts,
    )


def machine(state: int, flow: float, **extra: float) -> dict[str, float]:
    return {
        "state": state,
        "fad_m3_min": flow,
        "running_hours_h": 100.0,
        "remote_enabled": 1,
        "control_source": 1,
        "starts_last_hour": 0,
        "load_command": 1 if state == 2 else 0,
        "run_command": 1 if state in (1, 2) else 0,
        "load_pressure_setpoint_bar": 6.7,
        "unload_pressure_setpoint_bar": 7.1,
        "target_pressure_setpoint_bar": 6.9,
        "heartbeat_timeout_s": 30,
        **dict.fromkeys(SHUTDOWN_ALARMS, 0),
        **extra,
    }


class NoBus:
    """Every point is in the polls: a read or a write here is a failure of the test."""

    async def read(self, unit: int, function: Any, address: int, count: int) -> Any:
        raise AssertionError(f"read unit {unit} {function} {address}")

    async def write_register(self, unit: int, address: int, value: int) -> None:
        raise AssertionError("write")


def loop(
    polls: dict[str, PollResult], now: float, state_path: Path | None = None, mode: str = "advise"
) -> ControlLoop:
    cfg = config(mode)
    buses: dict[str, ControlBus] = {"air": NoBus()}
    return ControlLoop(
        config=cfg,
        profiles={d.name: REGISTRY.get(d.profile) for d in cfg.devices},
        buses=buses,
        clock=lambda: now,
        latest=polls.get,
        state_path=state_path,
    )


def room_polls(ts: float, bar: float = 6.9) -> dict[str, PollResult]:
    # c1 loaded (10 m3/min), c2 trimming (3 m3/min): demand 13, c1 wanted, nothing to stop
    return {
        "c1": poll("c1", ts, **machine(2, 10.0)),
        "c2": poll("c2", ts, **machine(2, 3.0, discharge_pressure_bar=bar)),
    }


async def test_the_room_is_read_from_the_polls_with_their_real_age() -> None:
    control = loop(room_polls(T - 2.0), T)
    (decision,) = await control.cycle()
    snap = control.snapshots["main"]
    assert snap.pressure.age_s == pytest.approx(2.0)
    assert snap.pressure.bar == pytest.approx(6.9)
    assert [m.device for m in snap.machines] == ["c1", "c2"]
    assert {c.device for c in decision.commands if c.point == "heartbeat"} == {"c1", "c2"}


async def test_polls_older_than_stale_after_s_hold_the_room_without_a_heartbeat() -> None:
    control = loop(room_polls(T - 16.0), T)  # stale_after_s 15
    (decision,) = await control.cycle()
    assert decision.commands == ()
    assert {a.code for a in decision.alarms} >= {"pressure_stale", "machine_unseen"}
    assert set(control.unreadable) == {"c1", "c2"}


async def test_a_failed_poll_of_the_pressure_device_holds_the_room() -> None:
    polls = room_polls(T - 1.0)
    failed = polls["c2"]
    points = failed.readings.points
    polls["c2"] = PollResult(
        "plant", "c2", "compressor", "p", failed.ts, 1,
        Readings(points, [None] * len(points), failed.readings.units, ["bad"] * len(points),
                 ["timeout"] * len(points)),
        status="failed",
    )  # fmt: skip
    (decision,) = await loop(polls, T).cycle()
    assert decision.commands == ()
    assert "pressure_bad" in {a.code for a in decision.alarms}


# ---- run/stop times across a restart


async def test_without_a_state_file_a_machine_counts_as_long_running() -> None:
    control = loop(room_polls(T - 1.0), T)
    await control.cycle()
    assert control.snapshots["main"].machines[0].run_s > 1e5


async def test_run_and_stop_times_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "control-state.json"
    first = loop(room_polls(T - 1.0), T, path)
    await first.cycle()
    saved = json.loads(path.read_text())
    assert saved["version"] == 1
    assert saved["machines"]["c1"]["running"] is True
    started = saved["machines"]["c1"]["since"]
    # the agent restarts 200 s later: c1 has run for 200 s, not since "long ago", not since now
    second = loop(room_polls(T + 199.0), T + 200.0, path)
    await second.cycle()
    assert second.snapshots["main"].machines[0].run_s == pytest.approx(T + 200.0 - started)
    # written atomically: no temporary file left beside it
    assert sorted(os.listdir(tmp_path)) == ["control-state.json"]


async def test_a_machine_that_changed_while_the_agent_was_down_counts_as_just_changed(tmp_path: Path) -> None:
    path = tmp_path / "control-state.json"
    path.write_text(json.dumps({"version": 1, "machines": {"c1": {"running": False, "since": T - 5000}}}))
    control = loop(room_polls(T - 1.0), T, path)  # c1 runs now: it started some time while we were down
    await control.cycle()
    assert control.snapshots["main"].machines[0].run_s == pytest.approx(1.0)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"version": 1, "machines": {"c1": {"running": "yes", "since": 1}}}',
        "[]",
        '{"version": 7}',
    ],
)
async def test_a_corrupt_state_file_warns_and_min_run_applies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    caplog.set_level(logging.WARNING, logger="energy_agent.control")
    path = tmp_path / "control-state.json"
    path.write_text(text)
    # low demand: without the state the optimiser would unload c1 (c2 alone serves 3 m3/min)
    polls = {
        "c1": poll("c1", T - 1.0, **machine(2, 0.5)),
        "c2": poll("c2", T - 1.0, **machine(2, 2.0, discharge_pressure_bar=6.9)),
    }
    unknown = loop(polls, T)
    (free,) = await unknown.cycle()
    assert ("c1", "load_command", 0) in [(c.device, c.point, c.value) for c in free.commands]

    conservative = loop(polls, T, path)
    (held,) = await conservative.cycle()
    assert "control_state_unreadable" in caplog.text
    assert conservative.snapshots["main"].machines[0].run_s == pytest.approx(1.0)
    assert not [c for c in held.commands if c.device == "c1" and c.point in ("load_command", "run_command")]
    assert json.loads(path.read_text())["version"] == 1  # rewritten whole


# ---- the dashboard's status and the history record


def decision(t: float, commands: tuple[Command, ...] = (), alarms: tuple[Alarm, ...] = ()) -> Decision:
    return Decision(
        "main", t, "dry-run", ("c1",), commands, (), alarms=alarms, pressure_bar=6.8, demand_m3min=9.5
    )


def test_status_keeps_the_last_50_decisions_that_did_something_newest_first() -> None:
    status = ControlStatus()
    assert status.snapshot() is None  # not configured: no control
    status.configure(config("dry-run").control)
    beat = (Command("c1", "heartbeat", 1, "alive"),)
    for i in range(60):
        status.add(decision(T + i, beat), json.loads(control_payload("plant", decision(T + i, beat))))
    for i in range(60, 130):
        d = decision(T + i, (*beat, Command("c1", "run_command", 1, "start")))
        status.add(d, json.loads(control_payload("plant", d)))
    last = decision(T + 200, beat)  # heartbeat only: the look is current, the list unchanged
    status.add(last, json.loads(control_payload("plant", last)))
    shot = status.snapshot()
    assert shot is not None
    (room,) = shot["rooms"]
    assert (shot["mode"], shot["cycle_s"]) == ("dry-run", 5.0)
    assert (room["band_low_bar"], room["band_high_bar"], room["minimum_bar"]) == (6.7, 7.1, 6.0)
    assert [d["ts"] for d in room["decisions"]] == [T + i for i in range(129, 79, -1)]
    assert room["pressure_bar"] == 6.8
    room["decisions"].clear()  # a copy: the status is not changed through it
    again = status.snapshot()
    assert again is not None
    assert len(again["rooms"][0]["decisions"]) == 50
    status.configure(config("off").model_copy().control.model_copy(update={"mode": "off"}))
    assert status.snapshot() is None


def test_the_history_record_is_the_contracts_influx_line_and_carries_the_message() -> None:
    room = config().control.rooms[0]
    d = decision(T + 0.25, (Command("c1", "heartbeat", 3, "alive"), Command("c1", "run_command", 1, "start")),
                 (Alarm("pressure_low", "low"),))  # fmt: skip
    payload = control_payload("plant", d)
    record = control_record("plant", d, room, payload, running=1, writes=2, seq=7)
    assert line_protocol(record) == (
        "control,site=plant,room=main,mode=dry-run pressure_bar=6.8,band_low_bar=6.7,band_high_bar=7.1,"
        "minimum_bar=6.0,demand_m3min=9.5,running=1i,commands=1i,writes=2i,alarms=1i "
        f"{round((T + 0.25) * 1000)}"
    )
    unseen = Decision("main", T, "advise", (), (), ())
    line = line_protocol(control_record("plant", unseen, room, control_payload("plant", unseen), running=0,
                                        writes=0, seq=8))  # fmt: skip
    assert "pressure_bar" not in line.split(" ")[1].split(",")[0]  # None is left out
    assert line.split(" ")[1].startswith("band_low_bar=6.7,")


async def test_a_cycle_whose_reads_overrun_cycle_s_writes_nothing_not_even_the_heartbeat() -> None:
    times = iter([T, T + 6.0])  # the look at T, the decision 6 s later: longer than cycle_s 5
    cfg = config("active")
    buses: dict[str, ControlBus] = {"air": NoBus()}  # a write would fail the test
    control = ControlLoop(
        config=cfg,
        profiles={d.name: REGISTRY.get(d.profile) for d in cfg.devices},
        buses=buses,
        clock=lambda: next(times),
        latest=room_polls(T - 1.0).get,
    )
    (decision,) = await control.cycle()
    assert any(c.point == "heartbeat" for c in decision.commands)  # decided, not carried out
    assert decision.writes == ()
    assert control.results == []
    assert [a.code for a in decision.alarms] == ["cycle_overrun"]
    jsonschema.validate(json.loads(control_payload("plant", decision)), CONTROL_SCHEMA)


def test_the_control_record_survives_the_outbox(tmp_path: Path) -> None:
    room = config().control.rooms[0]
    d = decision(T, (Command("c1", "run_command", 1, "in the least-power combination: start"),))
    unseen = Decision("main", T + 5, "dry-run", (), (), (), alarms=(Alarm("pressure_bad", "bad"),))
    records = [
        control_record("plant", x, room, control_payload("plant", x), running=1, writes=0, seq=i)
        for i, x in enumerate((d, unseen))
    ]
    outbox = Outbox(tmp_path / "outbox.db", ["mqtt"])
    try:
        outbox.put_many(records)
        rows = outbox.read_after("mqtt", 10)
    finally:
        outbox.close()
    assert [r.result for r in rows] == records
    # and parsed back from the stored text, as after a restart (the codec's cache taken first)
    for record in records:
        body = encode_result(record)
        assert decode_result(body, readers=1) is record  # the cache hands it out once
        parsed = decode_result(body)
        assert parsed == record
        payload = parsed.readings.get(CONTROL_PAYLOAD)
        assert payload is not None
        assert isinstance(payload.value, str)
        jsonschema.validate(json.loads(payload.value), CONTROL_SCHEMA)


async def test_an_unreadable_machine_is_logged_when_it_goes_and_when_it_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="energy_agent.control")
    polls = room_polls(T - 20.0)  # older than stale_after_s
    now = [T]
    control = loop(polls, T)
    control.clock = lambda: now[0]
    for _ in range(3):
        await control.cycle()
        now[0] += 5.0
    assert caplog.text.count("cannot read c1: its latest poll is") == 1
    polls.update(room_polls(now[0] - 1.0))
    await control.cycle()
    assert caplog.text.count("control: c1 read again") == 1
    assert caplog.text.count("control pressure_stale cleared") == 1
