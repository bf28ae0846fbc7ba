"""The intake in front of the outbox: batches in poll order, and drops by the outbox's own bounds
logged once when they start and once, with the count, when they stop."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.outbox import AsyncOutbox, Intake, Outbox
from tests.unit.test_outbox import make_box, poll


def intake_over(box: Outbox, now: list[float], **options: float) -> Intake:
    return Intake(AsyncOutbox(box), max_batch=100, clock=lambda: now[0], **options)  # type: ignore[arg-type]


def drop_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "polls_dropp" in r.getMessage()]


async def test_a_full_batch_asks_for_a_commit_and_commits_keep_poll_order(tmp_path: Path) -> None:
    box = make_box(tmp_path / "o.db", ["mqtt"])
    intake = intake_over(box, [0.0])
    due = [intake.hold(poll(seq)) for seq in range(1, 251)]
    assert due.index(True) == 99, "due once max_batch polls wait"
    await intake.commit()
    assert intake.accepted == 250
    assert intake.stats().held == 0
    assert [r.result.seq for r in box.read_after("mqtt", 1000)] == list(range(1, 251))


async def test_outbox_bound_drops_log_one_warning_then_one_count_after_a_quiet_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    box = make_box(tmp_path / "o.db", ["mqtt"], max_bytes=200_000)
    now = [0.0]
    intake = intake_over(box, now, drop_quiet_s=60.0)
    last_drop_at = None
    for start in range(1, 6001, 100):  # no sink confirms: the size bound drops the oldest rows
        for seq in range(start, start + 100):
            intake.hold(poll(seq))
        before = box.dropped_by_bounds
        await intake.commit()
        if box.dropped_by_bounds > before:
            last_drop_at = now[0]
        now[0] += 1.0
    assert box.dropped_by_bounds > 3000
    lines = drop_lines(caplog)
    assert len(lines) == 1, lines
    assert "event=polls_dropping where=outbox" in lines[0], lines

    assert last_drop_at is not None
    now[0] = last_drop_at + 59.0
    await intake.commit()
    assert len(drop_lines(caplog)) == 1, "still within the quiet period"
    now[0] = last_drop_at + 60.0
    await intake.commit()
    lines = drop_lines(caplog)
    assert lines[1] == f"event=polls_dropped where=outbox count={box.dropped_by_bounds}"
    assert box.stats().sinks[0].dropped == box.dropped_by_bounds
