"""kill -9 at random moments never corrupts the outbox nor loses a batch it reported as stored."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from agent.outbox import Outbox

# The child stores batches of 20 polls and prints a batch number only after put_many returned.
# Sink "a" acks (and so prunes) behind the writer, sink "b" never acks, so every row must remain.
CHILD = r"""
import sys, time
from pathlib import Path
from agent.outbox import Outbox
from agent.readings.model import PollResult, Reading

box = Outbox(Path(sys.argv[1]), ["a", "b"], clock=lambda: 1_700_000_000.0)
batch = int(sys.argv[2])
while True:
    polls = [
        PollResult("plant1", "meter1", "power_meter", "eastron/sdm630", 1_700_000_000.0 + batch,
                   batch * 20 + i, (Reading("active_power_kw", float(i), "kW"),))
        for i in range(20)
    ]
    last = box.put_many(polls)
    print(batch, flush=True)
    if batch % 3 == 0:
        box.ack("a", last - 30)
    batch += 1
"""


def run_and_kill(path: Path, first_batch: int, rng: random.Random) -> list[int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(first_batch)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.stdout is not None
    first = child.stdout.readline()  # the child is writing: now pick the moment to kill it
    assert first, "the writer child died before storing anything"
    time.sleep(rng.uniform(0.0, 0.3))
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    # A line cut by the kill has no newline: its batch may or may not be stored, so it is not claimed.
    complete = (first + rest).split("\n")[:-1]
    return [int(line) for line in complete]


def test_sigkill_at_random_moments_keeps_the_file_sound_and_every_reported_batch(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    rng = random.Random(20240601)
    reported: list[int] = []
    next_batch = 0
    for _ in range(6):
        committed = run_and_kill(path, next_batch, rng)
        reported += committed
        next_batch = max(committed) + 1000  # never reuse seq numbers of a batch that may be half-known
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    box = Outbox(path, ["a", "b"], clock=lambda: 1_700_000_000.0)
    stored = {r.result.seq for r in box.read_after("b", 10_000_000)}
    missing = [b for b in reported if not {b * 20 + i for i in range(20)} <= stored]
    assert len(reported) > 6
    assert missing == []
