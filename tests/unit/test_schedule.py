"""Wall-clock slots, overrun skipping and backoff."""

from __future__ import annotations

import asyncio

import pytest

from agent.runtime.schedule import Backoff, SlotSchedule, SystemClock


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


async def test_system_clock_wait_sleeps_the_given_seconds_on_the_loop_clock() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await SystemClock().wait(0.02, asyncio.Event())
    assert loop.time() - start >= 0.02


async def test_system_clock_wait_returns_when_stop_is_set_and_shares_one_watcher_per_event() -> None:
    clock, stop, other = SystemClock(), asyncio.Event(), asyncio.Event()
    before = len(asyncio.all_tasks())
    sleepers = [asyncio.create_task(clock.wait(3600.0, stop)) for _ in range(20)]
    unaffected = asyncio.create_task(clock.wait(3600.0, other))
    await asyncio.sleep(0)
    # 21 sleepers, one watcher per stop event: no task (or wait_for) per call
    assert len(asyncio.all_tasks()) == before + 21 + 2
    stop.set()
    await asyncio.gather(*sleepers)
    assert not unaffected.done()
    await clock.wait(3600.0, stop)  # already set: returns at once
    unaffected.cancel()
    with pytest.raises(asyncio.CancelledError):
        await unaffected
    other.set()
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before  # both watchers ended with their event


async def test_system_clock_wait_can_be_cancelled_and_the_event_reused() -> None:
    clock, stop = SystemClock(), asyncio.Event()
    sleeper = asyncio.create_task(clock.wait(3600.0, stop))
    await asyncio.sleep(0)
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    await clock.wait(0.001, stop)  # the watcher stays for the next wait on the same event
    stop.set()
    await asyncio.sleep(0)
    stop.clear()
    waiting = asyncio.create_task(clock.wait(3600.0, stop))
    await asyncio.sleep(0)
    stop.set()
    await waiting
