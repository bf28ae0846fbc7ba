"""The `{prefix}/{site}/control` message matches schemas/mqtt/control.schema.json and tells all."""

from __future__ import annotations

import pytest

from agent.control.model import Memory
from agent.control.payload import control_payload
from tests.unit.test_control_interlocks import run, snapshot
from tests.unit.test_control_strategy import running
from tests.unit.test_payloads import validate


@pytest.mark.parametrize("mode", ["advise", "dry-run", "active"])
def test_a_low_pressure_decision_is_a_valid_message_with_every_command(mode: str) -> None:
    decision = run(snapshot(running("c1", load_command=0), bar=5.8, demand=1.0), mode=mode)
    document = validate("control", control_payload("plant1", decision))
    assert (document["room"], document["mode"], document["pressure_bar"]) == ("main", mode, 5.8)
    assert len(document["commands"]) == len(decision.commands)
    assert all(c["written"] == (mode == "active") for c in document["commands"])
    (load,) = [c for c in document["commands"] if (c["device"], c["point"]) == ("c1", "load_command")]
    assert (load["value"], load["safety"], load["written"]) == (1, True, mode == "active")
    assert load["reason"].startswith("pressure 5.80 bar below minimum 6 bar")
    assert "pressure_low" in [a["code"] for a in document["alarms"]]


def test_a_failed_write_is_not_shown_as_written_and_deferred_commands_are_listed() -> None:
    decision = run(snapshot(demand=20.0), max_commands_per_minute=2)
    failed = decision.writes[-1]
    document = validate("control", control_payload("plant1", decision, failed=[failed]))
    shown = [c for c in document["commands"] if (c["device"], c["point"]) == failed.key]
    assert [c["written"] for c in shown] == [False]
    assert len(document["deferred"]) == len(decision.deferred) > 0


def test_a_held_room_is_a_valid_message_with_its_alarm_and_no_command() -> None:
    decision = run(snapshot(bar=None, demand=5.0), Memory())
    document = validate("control", control_payload("plant1", decision))
    assert document["commands"] == []
    assert document["pressure_bar"] is None
    assert [a["code"] for a in document["alarms"]] == ["pressure_bad"]
