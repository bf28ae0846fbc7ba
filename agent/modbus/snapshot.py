"""Raw register snapshots of a live device, for the plausibility check (agent/modbus/plausibility.py).

Thin I/O over the `RegisterReader` seam (a `ModbusLink`, or a plain function in a test): the reads the
poller would make for the profile, plus what the hypotheses need to decode the values again: the
register just before and just after each block, and each block in the other register table.
Those extra reads may fail (the device has nothing there): that only leaves a hypothesis without
data.
"""

from __future__ import annotations

import asyncio
import time

from agent.config.profile import Function, Profile
from agent.errors import DeviceError, DeviceTimeout, Unreachable
from agent.modbus.io import RegisterReader
from agent.modbus.plan import ReadBlock, plan_for_profile
from agent.modbus.plausibility import Diagnosis, Snapshot, diagnose

__all__ = ["check_device", "read_snapshot"]

_OTHER = {Function.HOLDING: Function.INPUT, Function.INPUT: Function.HOLDING}


async def read_snapshot(reader: RegisterReader, unit: int, profile: Profile) -> Snapshot:
    """Every register of the profile's points (and the neighbours the hypotheses need), read once.

    Raises the device error when not one block of the profile could be read because the device is
    silent or unreachable: there is nothing to judge. A block answered with an exception is kept
    as unreadable (the check reports its points)."""
    registers: dict[Function, dict[int, int]] = {Function.HOLDING: {}, Function.INPUT: {}}
    errors: dict[str, str] = {}
    blocks = [b for b in plan_for_profile(profile) if not b.function.is_bit]
    started = time.monotonic()
    silent: DeviceError | None = None
    for block in blocks:
        try:
            words = await reader.read(unit, block.function, block.start, block.count)
        except Unreachable:
            raise
        except DeviceError as exc:
            errors[str(block)] = str(exc)
            if isinstance(exc, DeviceTimeout):
                silent = silent or exc
            continue
        registers[block.function].update(
            zip(range(block.start, block.end), (int(w) for w in words), strict=True)
        )
    taken = (started + time.monotonic()) / 2
    if blocks and len(errors) == len(blocks) and silent is not None:
        raise silent
    extra: dict[Function, dict[int, int]] = {Function.HOLDING: {}, Function.INPUT: {}}
    await _read_extras(reader, unit, blocks, registers, extra)
    return Snapshot(taken, registers, errors, extra)


async def _read_extras(
    reader: RegisterReader,
    unit: int,
    blocks: list[ReadBlock],
    registers: dict[Function, dict[int, int]],
    extra: dict[Function, dict[int, int]],
) -> None:
    wanted: list[tuple[Function, int, int]] = []
    refused: list[ReadBlock] = []
    for block in blocks:
        if not all(a in registers[block.function] for a in range(block.start, block.end)):
            # the device refused the block: a map one off may reach one register past its last
            refused.append(block)
            lower = (block.start - 1, block.count) if block.start > 0 else (block.start, block.count - 1)
            wanted += [(block.function, *lower), (block.function, block.start + 1, block.count)]
        if block.start > 0:
            wanted.append((block.function, block.start - 1, 1))
        if block.end <= 65535:
            wanted.append((block.function, block.end, 1))
        wanted.append((_OTHER[block.function], block.start, block.count))
    silent: set[Function] = set()
    for function, address, count in wanted:
        if count > 0 and address + count <= 65536:
            await _read_into(reader, unit, (function, address, count), registers, extra, silent)
    for block in refused:  # still gaps: what the device has there, one register at a time
        refusals = 0
        for address in range(max(0, block.start - 1), min(65535, block.end) + 1):
            got = await _read_into(reader, unit, (block.function, address, 1), registers, extra, silent)
            refusals = 0 if got else refusals + 1
            if refusals >= _GIVE_UP_AFTER:  # no such table, or a long hole: enough
                break


_GIVE_UP_AFTER = 4


async def _read_into(
    reader: RegisterReader,
    unit: int,
    request: tuple[Function, int, int],
    registers: dict[Function, dict[int, int]],
    extra: dict[Function, dict[int, int]],
    silent: set[Function],
) -> bool:
    """Read one extra request into `extra`, unless already known; False when the device refused."""
    function, address, count = request
    have = registers[function].keys() | extra[function].keys()
    if all(a in have for a in range(address, address + count)):
        return True
    if function in silent:
        return False
    try:
        words = await reader.read(unit, function, address, count)
    except Unreachable:
        raise
    except DeviceTimeout:
        silent.add(function)  # a device that ignores this table: do not wait for it again
        return False
    except DeviceError:
        return False
    for offset, word in enumerate(words):
        if address + offset not in registers[function]:
            extra[function][address + offset] = int(word)
    return True


async def check_device(reader: RegisterReader, unit: int, profile: Profile, interval_s: float) -> Diagnosis:
    """Two snapshots `interval_s` apart, judged (see `plausibility.diagnose`)."""
    first = await read_snapshot(reader, unit, profile)
    await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - first.t)))
    second = await read_snapshot(reader, unit, profile)
    return diagnose(profile, first, second)
