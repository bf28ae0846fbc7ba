"""The durable store-and-forward queue: one SQLite file in WAL mode, one cursor per sink.

Durability contract (see docs/mqtt.md, "Delivery guarantees"):

- `put_many` returns only after its batch is committed with `synchronous=FULL`: in WAL mode that
  fsyncs the WAL on every commit, so an accepted batch survives kill -9 *and* power loss.
  (`synchronous=NORMAL` in WAL mode survives kill -9 too, but the last commits before a power cut
  or kernel crash may roll back; it never corrupts the file either way.)
- Cursor moves (`ack`) commit with `synchronous=NORMAL`: losing the last cursor move to a power cut
  only means those rows are sent again, which at-least-once delivery allows.
- Every sink reads rows after its own cursor, in id order (= accept order), and advances its
  cursor only after the far side confirmed. Rows every cursor has passed are deleted.
- Bounded by size and age. When over the size bound the oldest gauge-only rows go first, counter
  rows only when no gauge rows are left; every dropped row that a sink had not yet acknowledged
  is counted for that sink (persisted, shown by `stats()`), never silent.

The class is synchronous and thread-safe (one connection behind a lock); `AsyncOutbox` runs each
call in a worker thread so the event loop never waits on a disk.
"""

from __future__ import annotations

import bisect
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.config.site import LocalStoreSink
from agent.errors import SinkError
from agent.outbox.codec import carries_counter, decode_result, encode_result
from agent.readings.model import PollResult

__all__ = ["Outbox", "OutboxRow", "OutboxStats", "SinkCursorStats"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    device TEXT NOT NULL,
    has_counter INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_by_priority ON rows (has_counter, id);
CREATE TABLE IF NOT EXISTS boots (
    first_id INTEGER PRIMARY KEY,
    started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    sink TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL,
    dropped INTEGER NOT NULL DEFAULT 0
);
"""

# Per-row bytes beyond the body (row header, index entry); only used to size a drop, not to bill.
_ROW_OVERHEAD = 48
# Dropping down to 90 % of the bound keeps the outbox from dropping a few rows on every put.
_DROP_TARGET = 0.9
_AGE_CHECK_EVERY_S = 60.0

Synchronous = Literal["FULL", "NORMAL"]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """`boot`: when the outbox (= the agent process) that accepted the row was opened. The poller's
    seq starts again at 0 in every process, so (boot, device, seq) is what identifies a poll."""

    id: int
    result: PollResult
    boot: float | None = None


@dataclass(frozen=True, slots=True)
class SinkCursorStats:
    sink: str
    cursor: int
    lag_rows: int
    lag_s: float
    dropped: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    rows: int
    bytes_used: int
    max_bytes: int
    oldest_ts: float | None
    sinks: tuple[SinkCursorStats, ...]


class Outbox:
    """Durable queue of PollResults with one cursor per sink name.

    Cursors of sinks not named in `sinks` are removed when the file is opened, so a sink taken out
    of the config does not keep every row alive forever.
    """

    def __init__(
        self,
        path: Path,
        sinks: Sequence[str],
        *,
        max_bytes: int = 2 * 1024**3,
        max_age_s: float = 30 * 86400,
        accept_sync: Synchronous = "FULL",
        is_counter: Callable[[PollResult], bool] = carries_counter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not sinks:
            raise SinkError(f"outbox {path}: at least one sink is needed")
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._accept_sync = accept_sync
        self._is_counter = is_counter
        self._clock = clock
        self._lock = threading.Lock()
        self._next_age_check = 0.0
        self._boots: list[tuple[int, float]] = []  # (first row id, started), ascending
        self._readers = len(sinks)  # each row is read once per sink: the codec's cache keeps it that long
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._open(tuple(sinks))
        except sqlite3.Error as exc:
            raise SinkError(f"outbox {path}: cannot open: {exc}") from exc

    @classmethod
    def from_config(
        cls,
        config: LocalStoreSink,
        sinks: Sequence[str],
        *,
        is_counter: Callable[[PollResult], bool] = carries_counter,
    ) -> Outbox:
        """`<local_store.path>/outbox.db` with the configured size and age bounds."""
        return cls(
            config.path / "outbox.db",
            sinks,
            max_bytes=config.max_bytes,
            max_age_s=config.max_age_days * 86400,
            is_counter=is_counter,
        )

    def _open(self, sinks: tuple[str, ...]) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        with self._transaction():
            db.executemany(
                "INSERT OR IGNORE INTO cursors (sink, last_id) VALUES (?, 0)", [(s,) for s in sinks]
            )
            marks = ",".join("?" * len(sinks))
            db.execute(f"DELETE FROM cursors WHERE sink NOT IN ({marks})", sinks)
            self._prune()
            self._record_boot()

    def _record_boot(self) -> None:
        """Rows get ids above every id ever used (AUTOINCREMENT), so this boot owns ids from here on."""
        db = self._db
        used = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'rows'").fetchone()
        first_id = (int(used[0]) if used else 0) + 1
        oldest = db.execute("SELECT min(id) FROM rows").fetchone()[0]
        if oldest is not None:  # boots whose rows are all gone: only the last one before `oldest` matters
            db.execute(
                "DELETE FROM boots WHERE first_id < (SELECT max(first_id) FROM boots WHERE first_id <= ?)",
                (oldest,),
            )
        else:
            db.execute("DELETE FROM boots")
        db.execute(
            "INSERT OR REPLACE INTO boots (first_id, started) VALUES (?, ?)",
            (first_id, round(self._clock(), 3)),
        )
        self._boots = [
            (int(i), float(t)) for i, t in db.execute("SELECT first_id, started FROM boots ORDER BY first_id")
        ]

    def _boot_of(self, row_id: int) -> float | None:
        index = bisect.bisect_right(self._boots, row_id, key=lambda boot: boot[0]) - 1
        return self._boots[index][1] if index >= 0 else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- transactions --------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # --- accept ---------------------------------------------------------------------------------

    def put_many(self, results: Iterable[PollResult]) -> int:
        """Store a batch in one transaction; returns the last row id (0 for an empty batch).

        When this returns, the batch is on disk (see the module docstring for the fsync policy).
        """
        rows = [(r.ts, r.device, int(self._is_counter(r)), encode_result(r)) for r in results]
        if not rows:
            return 0
        with self._lock:
            self._db.execute(f"PRAGMA synchronous={self._accept_sync}")
            try:
                with self._transaction():
                    self._db.executemany(
                        "INSERT INTO rows (ts, device, has_counter, body) VALUES (?, ?, ?, ?)", rows
                    )
                    last = self._db.execute("SELECT max(id) FROM rows").fetchone()[0]
                    self._enforce_bounds()
            except sqlite3.Error as exc:
                raise SinkError(f"outbox {self.path}: cannot store {len(rows)} polls: {exc}") from exc
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
        return int(last)

    # --- read / ack -----------------------------------------------------------------------------

    def read_after(self, sink: str, limit: int) -> list[OutboxRow]:
        """Up to `limit` rows after the sink's cursor, in accept order."""
        with self._lock:
            cursor = self._cursor(sink)
            fetched = self._db.execute(
                "SELECT id, body FROM rows WHERE id > ? ORDER BY id LIMIT ?", (cursor, limit)
            ).fetchall()
        readers = self._readers
        return [
            OutboxRow(row_id, decode_result(body, readers), self._boot_of(row_id)) for row_id, body in fetched
        ]

    def ack(self, sink: str, last_id: int) -> None:
        """The far side confirmed every row up to `last_id`: move the cursor, prune passed rows."""
        with self._lock, self._transaction():
            self._cursor(sink)
            self._db.execute("UPDATE cursors SET last_id = max(last_id, ?) WHERE sink = ?", (last_id, sink))
            self._prune()

    def count_dropped(self, sink: str, rows: int) -> None:
        """Record rows a sink gave up on (e.g. refused by the server as bad data)."""
        with self._lock, self._transaction():
            self._db.execute("UPDATE cursors SET dropped = dropped + ? WHERE sink = ?", (rows, sink))

    def _cursor(self, sink: str) -> int:
        found = self._db.execute("SELECT last_id FROM cursors WHERE sink = ?", (sink,)).fetchone()
        if found is None:
            raise SinkError(f"outbox {self.path}: unknown sink {sink!r}")
        return int(found[0])

    def _prune(self) -> None:
        self._db.execute("DELETE FROM rows WHERE id <= (SELECT min(last_id) FROM cursors)")

    # --- bounds ---------------------------------------------------------------------------------

    def bytes_used(self) -> int:
        """Bytes of live pages (freed pages are reused by SQLite, so they do not count)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def enforce_bounds(self) -> int:
        """Apply the age and size bounds now; returns the number of rows dropped."""
        with self._lock, self._transaction():
            self._next_age_check = 0.0
            return self._enforce_bounds()

    def _enforce_bounds(self) -> int:
        dropped = 0
        now = self._clock()
        if now >= self._next_age_check:
            self._next_age_check = now + _AGE_CHECK_EVERY_S
            dropped += self._drop_older_than(now - self.max_age_s)
        excess = self.bytes_used() - int(self.max_bytes * _DROP_TARGET)
        if self.bytes_used() > self.max_bytes and excess > 0:
            dropped += self._drop_bytes(excess, has_counter=0)
            excess = self.bytes_used() - int(self.max_bytes * _DROP_TARGET)
            if self.bytes_used() > self.max_bytes and excess > 0:
                dropped += self._drop_bytes(excess, has_counter=1)
        return dropped

    def _drop_older_than(self, cutoff: float) -> int:
        victims = [r[0] for r in self._db.execute("SELECT id FROM rows WHERE ts < ?", (cutoff,))]
        return self._drop(victims)

    def _drop_bytes(self, excess: int, has_counter: int) -> int:
        # Freed pages only show after the delete, so the drop is sized from the row bytes.
        victims: list[int] = []
        freed = 0
        query = "SELECT id, length(body) FROM rows WHERE has_counter = ? AND id > ? ORDER BY id LIMIT 1000"
        last = 0
        while freed < excess:
            chunk = self._db.execute(query, (has_counter, last)).fetchall()
            if not chunk:
                break
            for row_id, length in chunk:
                victims.append(row_id)
                freed += length + _ROW_OVERHEAD
                if freed >= excess:
                    break
            last = chunk[-1][0]
        return self._drop(victims)

    def _drop(self, victims: list[int]) -> int:
        if not victims:
            return 0
        for sink, cursor in self._db.execute("SELECT sink, last_id FROM cursors").fetchall():
            lost = sum(1 for v in victims if v > cursor)
            if lost:
                self._db.execute("UPDATE cursors SET dropped = dropped + ? WHERE sink = ?", (lost, sink))
        self._db.executemany("DELETE FROM rows WHERE id = ?", [(v,) for v in victims])
        return len(victims)

    # --- stats ----------------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        """Size, age and per-sink lag and drop counts, for health and agent status."""
        now = self._clock()
        with self._lock:
            rows, oldest = self._db.execute("SELECT count(*), min(ts) FROM rows").fetchone()
            sinks = [
                self._sink_stats(sink, cursor, dropped, now) for sink, cursor, dropped in self._cursors()
            ]
            used = self.bytes_used()
        return OutboxStats(
            rows=int(rows), bytes_used=used, max_bytes=self.max_bytes, oldest_ts=oldest, sinks=tuple(sinks)
        )

    def _cursors(self) -> list[tuple[str, int, int]]:
        return [
            tuple(r) for r in self._db.execute("SELECT sink, last_id, dropped FROM cursors ORDER BY sink")
        ]

    def _sink_stats(self, sink: str, cursor: int, dropped: int, now: float) -> SinkCursorStats:
        lag_rows, first_ts = self._db.execute(
            "SELECT count(*), (SELECT ts FROM rows WHERE id > ?1 ORDER BY id LIMIT 1) "
            "FROM rows WHERE id > ?1",
            (cursor,),
        ).fetchone()
        lag_s = max(0.0, now - first_ts) if first_ts is not None else 0.0
        return SinkCursorStats(sink=sink, cursor=cursor, lag_rows=int(lag_rows), lag_s=lag_s, dropped=dropped)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error (sqlite3's own handling is implicit and lazy)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
