"""The `control:` section as a site file gives it, and the writes it lets through.

"A config without writes_enabled never writes, in any mode": a real file is loaded, and the decision
for a room in need of every command is made in each mode with the devices the file lets be written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.control import Memory, Pressure, RoomSnapshot, decide, writable_devices
from tests.unit.test_config import GOOD
from tests.unit.test_config_hostile import CONTROL, ENV, compressor
from tests.unit.test_control_strategy import stopped


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_control_section_means_off_and_no_rooms(tmp_path: Path) -> None:
    control = load_config(site(tmp_path, GOOD), env=ENV).config.control
    assert control.mode == "off"
    assert control.rooms == ()


def test_mode_off_unquoted_is_the_mode_off(tmp_path: Path) -> None:
    # YAML 1.1 reads a bare `off` as false: the loader takes it as the mode its user wrote
    text = compressor(CONTROL.replace("mode: active", "mode: off"))
    assert load_config(site(tmp_path, text), env=ENV).config.control.mode == "off"


def test_the_control_section_loads_with_its_defaults(tmp_path: Path) -> None:
    control = load_config(site(tmp_path, compressor(CONTROL)), env=ENV).config.control
    room = control.rooms[0]
    assert (control.mode, control.cycle_s, control.heartbeat_timeout_s) == ("active", 5.0, 30)
    assert (room.load_bar, room.unload_bar) == (6.65, 6.95)
    assert room.machines[0].idle_kw == pytest.approx(45 * 0.25)


def writes_in(tmp_path: Path, text: str, mode: str) -> tuple[int, int]:
    loaded = load_config(site(tmp_path, text.replace("mode: active", f"mode: {mode}")), env=ENV)
    room = loaded.config.control.rooms[0]
    snap = RoomSnapshot("room1", 0.0, Pressure(5.0, True, 1.0), (stopped("main"),), 6.0)
    decision = decide(snap, room, loaded.config.control, Memory(), writable_devices(loaded.config))
    return len(decision.commands), len(decision.writes)


@pytest.mark.parametrize("mode", ["off", "advise", "dry-run", "active"])
def test_a_config_without_writes_enabled_never_writes_in_any_mode(tmp_path: Path, mode: str) -> None:
    commands, writes = writes_in(tmp_path, compressor(CONTROL), mode)
    assert commands > 0
    assert writes == 0


@pytest.mark.parametrize("mode", ["off", "advise", "dry-run", "active"])
def test_with_writes_enabled_only_active_writes(tmp_path: Path, mode: str) -> None:
    text = compressor(CONTROL).replace("    area: hall\n", "    area: hall\n    writes_enabled: true\n", 1)
    commands, writes = writes_in(tmp_path, text, mode)
    assert commands > 0
    assert writes == (commands if mode == "active" else 0)
