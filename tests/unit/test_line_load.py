"""How busy an RS-485 line is, predicted from the config: `validate` and `run` say so per line.

The expected figures are worked out by hand from Modbus RTU framing (a read request is 8 bytes, the
answer 5 + 2 per register, a 3.5-character silence after each frame) and the 5 ms device turnaround
the planner assumes, not taken from the code under test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.cli import main
from agent.config.loader import LoadedConfig, load_config
from agent.modbus.lines import line_loads
from agent.runtime.app import Agent
from agent.runtime.output import JsonLinesOutput

# One float32 point: one request of 2 registers = 8 + 9 bytes + 7 characters of silence = 24
# characters, at 9600 baud 8N1 (10 bits a character) 0.025 s on the wire, + 5 ms turnaround.
ONE_POINT_8N1_S = 24 * 10 / 9600 + 0.005
# The same on a converter whose framing is unknown: the Modbus default of 11 bits a character.
ONE_POINT_11BIT_S = 24 * 11 / 9600 + 0.005


def _site(tmp_path: Path, *, meters: int, interval_s: float, bus: str) -> LoadedConfig:
    """A site with a TCP main meter and `meters` one-point meters on `bus` (YAML of one bus item)."""
    lines = [
        "site:",
        "  name: plant",
        "buses:",
        "  - name: tcp1",
        "    type: tcp",
        "    host: 127.0.0.1",
        *("  " + line for line in bus.splitlines()),
        "devices:",
        "  - {name: main, bus: tcp1, unit_id: 1, profile: eastron/sdm630, interval_s: 5}",
    ]
    lines += [
        f"  - {{name: m{i}, bus: line1, unit_id: {i}, profile: eastron/sdm630, points: [voltage_l1_n_v],"
        f" interval_s: {interval_s}}}"
        for i in range(1, meters + 1)
    ]
    path = tmp_path / "site.yaml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path)


SERIAL = """\
- name: line1
  type: rtu
  port: /dev/ttyUSB0
  baudrate: 9600
  timeout_s: 0.2
"""


def _loads(loaded: LoadedConfig) -> list:  # type: ignore[type-arg]
    return line_loads(loaded.config, loaded.registry.get, loaded.issue_at)


def test_wire_time_per_round_and_per_second_of_a_serial_line(tmp_path: Path) -> None:
    loaded = _site(tmp_path, meters=4, interval_s=0.5, bus=SERIAL)
    (load,) = _loads(loaded)  # the TCP bus is not a shared wire: not reported
    assert (load.bus, load.baudrate, load.devices) == ("line1", 9600, 4)
    assert load.round_s == pytest.approx(4 * ONE_POINT_8N1_S)
    assert load.busy == pytest.approx(4 * ONE_POINT_8N1_S / 0.5)
    assert load.issue is None  # 24 % busy


def test_an_over_subscribed_line_is_a_warning_at_the_bus_line(tmp_path: Path) -> None:
    loaded = _site(tmp_path, meters=12, interval_s=0.3, bus=SERIAL)  # 12 x 30 ms every 0.3 s = 120 %
    (load,) = _loads(loaded)
    assert load.busy == pytest.approx(12 * ONE_POINT_8N1_S / 0.3)
    assert load.issue is not None
    text = str(load.issue)
    assert text.startswith(f"{tmp_path / 'site.yaml'}:7: buses[1]:")  # the line of `- name: line1`
    assert "over-subscribed" in text
    assert "1.20 s of wire time per second at 9600 baud" in text


def test_a_nearly_full_line_warns_and_a_slower_interval_clears_it(tmp_path: Path) -> None:
    (near,) = _loads(_site(tmp_path, meters=9, interval_s=0.3, bus=SERIAL))  # 90 %
    assert near.issue is not None
    assert "90 % busy" in near.issue.message
    (relaxed,) = _loads(_site(tmp_path, meters=9, interval_s=0.6, bus=SERIAL))  # 45 %
    assert relaxed.busy == pytest.approx(near.busy / 2)
    assert relaxed.issue is None


def test_a_converter_line_is_checked_only_when_its_baud_rate_is_given(tmp_path: Path) -> None:
    converter = "- name: line1\n  type: rtu_over_tcp\n  host: 127.0.0.1\n  timeout_s: 0.2\n"
    assert _loads(_site(tmp_path, meters=3, interval_s=1, bus=converter)) == []
    (load,) = _loads(_site(tmp_path, meters=3, interval_s=1, bus=converter + "  line_baudrate: 9600\n"))
    assert load.round_s == pytest.approx(3 * ONE_POINT_11BIT_S)


def test_the_inter_frame_delay_is_line_time_too(tmp_path: Path) -> None:
    (load,) = _loads(_site(tmp_path, meters=2, interval_s=1, bus=SERIAL + "  inter_frame_delay_ms: 10\n"))
    assert load.round_s == pytest.approx(2 * (ONE_POINT_8N1_S + 0.010))


def test_validate_prints_each_line_and_the_warning_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _site(tmp_path, meters=12, interval_s=0.3, bus=SERIAL)
    assert main(["validate", str(tmp_path / "site.yaml")]) == 0
    out, err = capsys.readouterr()
    assert "line line1 (9600 baud, 12 device(s)): 120 % busy" in out
    assert "warning: " in err
    assert "buses[1]: line line1 is over-subscribed" in err
    assert "1 warning(s)" in err


def test_run_logs_the_line_load_as_a_warning_when_over_subscribed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = _site(tmp_path, meters=12, interval_s=0.3, bus=SERIAL)
    output = JsonLinesOutput(tmp_path / "out.jsonl")
    try:
        with caplog.at_level(logging.INFO, logger="agent.runtime"):
            Agent(loaded, output)._report_line_loads(loaded)
    finally:
        output.close()
    (record,) = [r for r in caplog.records if "event=line_load" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "bus=line1" in record.getMessage()
    assert "busy_pct=120 " in record.getMessage()


def test_validate_names_a_converter_line_whose_speed_it_cannot_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _site(
        tmp_path,
        meters=2,
        interval_s=1,
        bus="- name: line1\n  type: rtu_over_tcp\n  host: 127.0.0.1\n  timeout_s: 0.5\n",
    )
    assert main(["validate", str(tmp_path / "site.yaml")]) == 0
    out, err = capsys.readouterr()
    assert "line line1: speed unknown (set line_baudrate to have its load checked)" in out
    assert "warning" not in err
