"""`energy-agent control SITE.yaml --dry-run`: the sequencer alone, a live decision table every cycle.

For commissioning and for integrators: it reads the rooms of the file's `control:` section through
its own bus connections, decides, and prints per room the pressure, the band, the demand estimate,
the combination, every command it would write (device, register, raw and scaled value, reason) and
the alarms. A command appears in the cycle it becomes wanted, not in every cycle after: the loop
takes it as written (`ControlLoop.shadows`), and each table names what it so assumes while the
registers still say otherwise ("assumed written c2 (not asked again): ..."). It is always a dry
run, whatever the file says (`mode: active`, `writes_enabled: true`): the mode is forced to dry-run
and the buses it gets refuse every write, so nothing is ever written. Nothing is published or
recorded either. The first decision comes one cycle after a first look
(the demand estimate needs the pressure's rate of change). `--once` runs one cycle and exits: 0, or
2 when a device of a room could not be read (named with its bus and address).

It polls the room's devices itself: do not run it beside `energy-agent run` on a serial line that
has no room for a second master's requests.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from agent.config.control import ControlRoom
from agent.config.loader import LoadedConfig, load_config
from agent.config.profile import Function
from agent.config.site import SiteConfig
from agent.control.io import SHADOWED, ControlBus, ControlLoop, register_write
from agent.control.model import Decision
from agent.errors import ConfigError, DeviceError
from agent.modbus.bus import LineArbiter, PoolArbiter, arbiter_for
from agent.modbus.io import Registers

__all__ = ["add_parsers", "control_command", "decision_table"]


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "control",
        help="run the compressor-room sequencer alone in dry-run: a live decision table each cycle "
        "(never writes, publishes nothing)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="site config YAML with a control: section")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        required=True,
        help="required: decide and show what would be written, write nothing (whatever the file's mode)",
    )
    parser.add_argument(
        "--once", action="store_true", help="one cycle, then exit (2 if a device is unreadable)"
    )
    parser.set_defaults(func=control_command)


class ReadOnlyBus:
    """A bus arbiter that reads and refuses every write: the dry run's guarantee, whatever decides."""

    def __init__(self, bus: LineArbiter | PoolArbiter) -> None:
        self.bus = bus

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        return await self.bus.read(unit, function, address, count)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        raise DeviceError(f"energy-agent control --dry-run never writes (unit {unit} holding {address})")


def dry_run_config(loaded: LoadedConfig) -> SiteConfig:
    """The file's config with control forced to dry-run; ConfigError (file:line) when there is
    nothing to run: no `control:` rooms, or `mode: off`."""
    config = loaded.config
    control = config.control
    if not control.rooms:
        raise ConfigError(
            [loaded.issue_at(("control",), "no control: section with rooms: nothing to sequence")]
        )
    if control.mode == "off":
        raise ConfigError(
            [
                loaded.issue_at(
                    ("control", "mode"),
                    "control.mode is off: the sequencer is switched off for this site; set advise, dry-run "
                    "or active to try it here (this command never writes in any mode)",
                )
            ]
        )
    return config.model_copy(update={"control": control.model_copy(update={"mode": "dry-run"})})


def _where(config: SiteConfig, device: str) -> str:
    dev = next(d for d in config.devices if d.name == device)
    bus = next(b for b in config.buses if b.name == dev.bus)
    address = getattr(bus, "host", None)
    place = f"{address}:{getattr(bus, 'port', '')}" if address else getattr(bus, "port", "")
    return f"{device} (bus {bus.name} {place}, unit {dev.unit_id})"


def decision_table(
    config: SiteConfig, loop: ControlLoop, decisions: Sequence[Decision], stream: TextIO
) -> None:
    """Print one cycle: per room a header line, the commands it would write, its alarms."""
    rooms = {r.name: r for r in config.control.rooms}
    for decision in decisions:
        room = rooms[decision.room]
        at = datetime.fromtimestamp(decision.t).astimezone().strftime("%H:%M:%S")
        pressure = "-" if decision.pressure_bar is None else f"{decision.pressure_bar:.2f}"
        demand = "-" if decision.demand_m3min is None else f"{decision.demand_m3min:.1f}"
        combination = "+".join(decision.combination) or "-"
        print(
            f"{at}  room {room.name}  pressure {pressure} bar  band {room.load_bar:g}-{room.unload_bar:g} bar"
            f" (min {room.minimum_bar:g})  demand {demand} m3/min  combination {combination}",
            file=stream,
        )
        rows = [("device", "register", "point", "raw", "value", "reason")]
        for c in decision.commands:
            try:
                address, raw = register_write(loop.profiles[c.device], c)
                register, raw_text = f"holding {address}", str(raw)
            except ValueError:
                register, raw_text = "-", "-"
            rows.append((c.device, register, c.point, raw_text, f"{c.value:g}", c.reason))
        for c in decision.deferred:
            reason = f"deferred (command limit): {c.reason}"
            rows.append((c.device, "-", c.point, "-", f"{c.value:g}", reason))
        if len(rows) > 1:
            widths = [max(len(r[i]) for r in rows) for i in range(5)]
            for row in rows:
                cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:5])]
                print("  " + "  ".join(cells) + "  " + row[5], file=stream)
        else:
            print("  no command", file=stream)
        for device, assumed in _assumed(loop, room, decision).items():
            print(f"  assumed written {device} (not asked again): {', '.join(assumed)}", file=stream)
        for alarm in decision.alarms:
            print(f"  alarm {alarm.code}: {alarm.message}", file=stream)
    stream.flush()


def _assumed(loop: ControlLoop, room: ControlRoom, decision: Decision) -> dict[str, list[str]]:
    """Per device, the read-backs the dry run takes as written by an earlier cycle's would-be
    command (the loop's shadows) where the real read-back still differs: `target_pressure_setpoint_bar
    6.9 (reads 7.2)`. Nothing was written, so without these lines a table with only the heartbeat
    would read as "the room is as the sequencer wants it"."""
    snap = loop.snapshots.get(room.name)
    seen = {m.device: m for m in snap.machines} if snap is not None else {}
    asked = {c.key for c in decision.commands}
    out: dict[str, list[str]] = {}
    for m in room.machines:
        for point, name in SHADOWED.items():
            shadow = loop.shadows.get((m.device, point))
            machine = seen.get(m.device)
            if shadow is None or machine is None or (m.device, point) in asked:
                continue
            real = getattr(machine, name)
            if real is None or abs(real - shadow.value) > 1e-6:
                reads = "-" if real is None else f"{real:g}"
                out.setdefault(m.device, []).append(f"{point} {shadow.value:g} (reads {reads})")
    return out


async def _run(config: SiteConfig, profiles: Mapping[str, Any], once: bool, stream: TextIO) -> int:
    wanted = {name for room in config.control.rooms for name in _room_devices(room)}
    used = {d.bus for d in config.devices if d.name in wanted}
    arbiters = {b.name: arbiter_for(b) for b in config.buses if b.name in used}
    buses: dict[str, ControlBus] = {name: ReadOnlyBus(a) for name, a in arbiters.items()}
    loop = ControlLoop(config=config, profiles=profiles, buses=buses)
    cycle_s = config.control.cycle_s
    try:
        # A first look one cycle ahead of the first decision: the demand estimate needs the
        # pressure's rate of change, which one look cannot give.
        for room in config.control.rooms:
            await loop.snapshot(room)
        await asyncio.sleep(cycle_s)
        while True:
            started = time.monotonic()
            decisions = await loop.cycle()
            decision_table(config, loop, decisions, stream)
            for device, why in sorted(loop.unreadable.items()):
                print(f"  error: cannot read {_where(config, device)}: {why}", file=stream)
            if once:
                return 2 if loop.unreadable else 0
            print(file=stream)
            await asyncio.sleep(max(0.0, cycle_s - (time.monotonic() - started)))
    finally:
        for arbiter in arbiters.values():
            await arbiter.close()


def _room_devices(room: ControlRoom) -> set[str]:
    return {room.pressure_device, *(m.device for m in room.machines)}


def control_command(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)  # a ConfigError exits 1 with every issue at file:line
    if not getattr(args, "debug", False):  # the table says what the log would: keep it readable
        logging.getLogger("energy_agent.control").setLevel(logging.ERROR)
    config = dry_run_config(loaded)
    profiles = {d.name: loaded.registry.get(d.profile) for d in config.devices}
    rooms, cycle_s = len(config.control.rooms), config.control.cycle_s
    print(f"energy-agent control: dry run of {rooms} room(s) every {cycle_s:g} s (nothing is written)")
    return asyncio.run(_run(config, profiles, args.once, sys.stdout))
