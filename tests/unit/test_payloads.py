"""MQTT payloads match their published schemas; line protocol is escaped and typed as Influx expects."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.readings.model import PollResult, Reading
from agent.sinks import payloads

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "mqtt"


def validate(name: str, payload: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(payload)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    return document


def meter_poll(**overrides: Any) -> PollResult:
    fields: dict[str, Any] = {
        "site": "plant1",
        "device": "meter1",
        "device_kind": "power_meter",
        "profile": "eastron/sdm630",
        "ts": 1_717_200_000.25,
        "seq": 42,
        "readings": (
            Reading("active_power_kw", 12.5, "kW"),
            Reading("energy_import_kwh", 1234.5, "kWh", "stale", "timeout"),
            Reading("run", True),
            Reading("alarms", 3),
            Reading("serial", "A1 B2"),
            Reading("voltage_l1_v", None, "V", "bad", "timeout"),
            Reading("freq_hz", math.nan, "Hz"),
        ),
        "area": "hall-a",
        "tags": {"line": "l1"},
    }
    fields.update(overrides)
    return PollResult(**fields)


def test_telemetry_validates_and_carries_seq_quality_and_time() -> None:
    doc = validate("telemetry", payloads.telemetry_payload(meter_poll()))
    assert doc["seq"] == 42
    assert doc["time"] == "2024-06-01T00:00:00.250Z"
    assert doc["points"]["energy_import_kwh"] == {"v": 1234.5, "u": "kWh", "q": "stale", "r": "timeout"}
    assert doc["points"]["freq_hz"] == {"v": None, "u": "Hz", "q": "bad", "r": "non_finite"}


def test_status_kpi_and_rating_payloads_validate() -> None:
    validate("device_status", payloads.device_status_payload("plant1", "meter1", False, "timeout", 1.0))
    will = validate("agent_status", payloads.agent_status_payload("plant1", False, "connection_lost", None))
    assert will["state"] == "offline"
    assert (will["ts"], will["time"]) == (None, None)
    online = validate("agent_status", payloads.agent_status_payload("plant1", True, None, 1717200000.25))
    assert (online["ts"], online["time"]) == (1717200000.25, "2024-06-01T00:00:00.250Z")
    kpi = payloads.kpi_payload(
        "plant1", 1.0, "2024-06-01T00:00:00+08:00/P1D", {"eui": (0.42, "kWh/unit"), "x": (math.inf, "")}
    )
    assert validate("kpi", kpi)["values"]["x"]["value"] is None
    validate("rating", payloads.rating_payload("plant1", 1.0, {"grade": "A"}))


def test_telemetry_with_an_unknown_status_is_rejected_by_the_schema() -> None:
    bad = json.loads(payloads.telemetry_payload(meter_poll()))
    bad["status"] = "weird"
    with pytest.raises(jsonschema.ValidationError):
        validate("telemetry", json.dumps(bad).encode())


def test_line_protocol_types_fields_and_counts_bad_points() -> None:
    line = payloads.line_protocol(meter_poll())
    assert line == (
        "power_meter,area=hall-a,device=meter1,line=l1,profile=eastron/sdm630,site=plant1 "
        "active_power_kw=12.5,energy_import_kwh=1234.5,run=1i,alarms=3i,bad_points=2i 1717200000250"
    )


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("a b", r"a\ b"), ("a,b", r"a\,b"), ("a=b", r"a\=b"), ("a\nb", r"a\nb"), (r"a\b", r"a\b")],
)
def test_tag_escaping_matches_the_influx_client(text: str, escaped: str) -> None:
    assert payloads.escape_tag(text) == escaped


def test_measurement_escapes_spaces_and_commas_but_not_equals() -> None:
    assert payloads.escape_measurement("air comp,1=x") == r"air\ comp\,1=x"


def test_empty_tags_are_left_out_and_standard_tags_win() -> None:
    line = payloads.line_protocol(meter_poll(area=None, tags={"site": "spoof", "empty": ""}))
    assert line.startswith("power_meter,device=meter1,profile=eastron/sdm630,site=plant1 ")


def test_timestamps_round_to_milliseconds() -> None:
    assert payloads.line_protocol(meter_poll(ts=1.0006)).endswith(" 1001")


def test_topics_join_prefix_site_and_parts() -> None:
    assert payloads.topic("energy", "plant1", "meter1", "telemetry") == "energy/plant1/meter1/telemetry"
