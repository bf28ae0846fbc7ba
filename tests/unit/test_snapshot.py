"""The check's reads at the RegisterReader seam (agent/modbus/snapshot.py), with a plain fake device."""

from __future__ import annotations

import pytest

from agent.config.profile import Function, Profile
from agent.errors import DeviceTimeout, ExceptionResponse, Unreachable
from agent.modbus.plausibility import Cause
from agent.modbus.snapshot import check_device, read_snapshot

PROFILE = Profile.model_validate(
    {
        "id": "t/m",
        "vendor": "t",
        "model": "m",
        "device_kind": "power_meter",
        "points": [
            {"name": "voltage_l1_n_v", "function": "holding", "address": 10, "dtype": "uint16"}
            | {"unit": "V", "scale": 0.1},
            {"name": "frequency_hz", "function": "holding", "address": 11, "dtype": "uint16"}
            | {"unit": "Hz", "scale": 0.01},
        ],
    }
)


class Device:
    """Holding registers 9..12 (and nothing in the input table unless given); records each read."""

    def __init__(
        self, holding: dict[int, int], inputs: dict[int, int] | None = None, error: Exception | None = None
    ):
        self.tables = {Function.HOLDING: holding, Function.INPUT: inputs or {}}
        self.error = error
        self.reads: list[tuple[Function, int, int]] = []

    async def read(self, unit: int, function: Function, address: int, count: int) -> list[int]:
        self.reads.append((function, address, count))
        if self.error is not None:
            raise self.error
        table = self.tables[function]
        if not all(a in table for a in range(address, address + count)):
            raise ExceptionResponse(2)
        return [table[a] for a in range(address, address + count)]


async def test_a_snapshot_holds_the_points_their_neighbours_and_the_other_table() -> None:
    device = Device({9: 7, 10: 2300, 11: 5000, 12: 8}, {10: 1, 11: 2})
    snap = await read_snapshot(device, 1, PROFILE)
    assert device.reads[0] == (Function.HOLDING, 10, 2)
    assert set(device.reads[1:]) == {
        (Function.HOLDING, 9, 1),
        (Function.HOLDING, 12, 1),
        (Function.INPUT, 10, 2),
    }
    assert dict(snap.registers[Function.HOLDING]) == {10: 2300, 11: 5000}  # what the map as written reads
    assert dict(snap.extra[Function.HOLDING]) == {9: 7, 12: 8}
    assert dict(snap.extra[Function.INPUT]) == {10: 1, 11: 2}
    assert not snap.errors


async def test_a_refused_block_is_kept_as_unreadable_and_judged_so() -> None:
    device = Device({}, {10: 2300, 11: 5000})
    diagnosis = await check_device(device, 1, PROFILE, 0.0)
    assert {r.detail for r in diagnosis.as_mapped.failures} == {"unreadable"}
    assert diagnosis.likely is not None
    assert diagnosis.likely.cause is Cause.FUNCTION_CODE


@pytest.mark.parametrize("error", [DeviceTimeout("silent"), Unreachable("refused")])
async def test_a_device_that_does_not_answer_at_all_is_an_error_not_a_verdict(error: Exception) -> None:
    with pytest.raises(type(error)):
        await read_snapshot(Device({}, error=error), 1, PROFILE)
