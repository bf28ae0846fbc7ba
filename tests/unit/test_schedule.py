"""Wall-clock slots, overrun skipping and backoff."""

from __future__ import annotations

import pytest

from agent.runtime.schedule import Backoff, SlotSchedule


@pytest.mark.parametrize(
    ("wall", "slot"), [(1000.0, 1005.0), (1005.0, 1005.0), (1005.0001, 1020.0), (1019.99, 1020.0)]
)
def test_slots_align_to_the_wall_clock(wall: float, slot: float) -> None:
    assert SlotSchedule(15.0).slot_at_or_after(wall) == slot


def test_on_time_poll_moves_to_the_next_slot() -> None:
    assert SlotSchedule(15.0).next_after(1005.0, now=1005.2) == (1020.0, 0)


def test_overrun_skips_missed_slots_instead_of_queuing_them() -> None:
    assert SlotSchedule(15.0).next_after(1005.0, now=1041.0) == (1050.0, 2)


def test_backoff_pushes_next_slot_without_counting_missed() -> None:
    assert SlotSchedule(15.0).next_after(1005.0, now=1006.0, not_before=1060.0) == (1065.0, 0)


def test_fractional_interval_does_not_drift() -> None:
    schedule = SlotSchedule(0.1)
    slot = schedule.slot_at_or_after(0.0)
    for _ in range(1000):
        slot, missed = schedule.next_after(slot, now=slot + 0.01)
        assert missed == 0
    assert slot == pytest.approx(100.0)


def test_backoff_doubles_and_is_capped() -> None:
    backoff = Backoff(base_s=30.0, cap_s=300.0)
    assert [backoff.delay(k) for k in range(6)] == [0, 30, 60, 120, 240, 300]
