"""`energy-agent run --output FILE`: each line is plain JSON a person or a script reads, a poll's
readings as point -> {value, unit, quality, reason} (issue 20: they were a Python repr string)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from agent.readings.model import PollResult, Reading
from agent.runtime.output import JsonLinesOutput, StatusEvent


async def test_poll_lines_carry_each_points_value_unit_quality_and_reason(tmp_path: Path) -> None:
    readings = [
        Reading("voltage_l1_n_v", 231.5, "V"),
        Reading("energy_import_kwh", 1234, "kWh", "stale", "timeout"),
        Reading("power_kw", math.nan, "kW", "bad", "non_finite"),
        Reading("name", "Zähler 北", ""),
        Reading("alarm", True, ""),
    ]
    result = PollResult("plant", "main", "meter", "eastron/sdm630", 1_780_000_000.0, 7, readings)
    out = JsonLinesOutput(tmp_path / "out.jsonl")
    await out.put(result)
    await out.status(StatusEvent("main", "online", None, 1_780_000_000.0))
    out.close()
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    poll, status = (json.loads(line, parse_constant=lambda c: 1 / 0) for line in lines)
    assert poll["type"] == "poll"
    assert (poll["device"], poll["seq"], poll["ts"]) == ("main", 7, 1_780_000_000.0)
    assert poll["time"] == "2026-05-28T20:26:40Z"
    assert list(poll["readings"]) == [r.point for r in readings]  # the device's point order
    assert poll["readings"]["voltage_l1_n_v"] == {
        "value": 231.5,
        "unit": "V",
        "quality": "good",
        "reason": None,
    }
    assert poll["readings"]["energy_import_kwh"] == {
        "value": 1234, "unit": "kWh", "quality": "stale", "reason": "timeout",
    }  # fmt: skip
    # Strict JSON: a NaN is null (parse_constant above fails on NaN), its reading says why.
    assert poll["readings"]["power_kw"] == {
        "value": None,
        "unit": "kW",
        "quality": "bad",
        "reason": "non_finite",
    }
    assert poll["readings"]["name"]["value"] == "Zähler 北"
    assert poll["readings"]["alarm"]["value"] is True
    assert status == {
        "type": "status",
        "device": "main",
        "state": "online",
        "reason": None,
        "ts": 1_780_000_000.0,
    }
