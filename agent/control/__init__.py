"""Compressor-room sequencing (issue 19): pure decision logic; the I/O layer is not built yet.

`decide` turns a `RoomSnapshot` (header pressure, each machine's state) into a `Decision` (commands
with reasons, alarms, what the mode lets through as writes). See docs/control.md.
"""

from agent.control.decide import decide, writable_devices
from agent.control.model import (
    Alarm,
    Command,
    Decision,
    MachineSnapshot,
    MachineState,
    Memory,
    Pressure,
    RoomSnapshot,
)
from agent.control.strategy import best_combination, estimate_demand, peak_demand, power_kw

__all__ = [
    "Alarm",
    "Command",
    "Decision",
    "MachineSnapshot",
    "MachineState",
    "Memory",
    "Pressure",
    "RoomSnapshot",
    "best_combination",
    "decide",
    "estimate_demand",
    "peak_demand",
    "power_kw",
    "writable_devices",
]
