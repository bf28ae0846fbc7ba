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
- Bounded by size and age. The size bound covers the files on disk: the database, its WAL and the
  WAL index (`-shm`). The WAL gets a share of the bound (`wal_budget`: 1/8, between 16 and 1,000
  pages), enforced by checkpoints (`wal_autocheckpoint`, `journal_size_limit`, and a
  `wal_checkpoint(TRUNCATE)` after an accepting commit that left it larger); the rows get the rest
  (`row_budget`). Before a batch is inserted, room is made for it: the oldest gauge-only rows go
  first, counter rows only when no gauge rows are left; pages freed beyond the row budget are given
  back to the file system (`auto_vacuum=INCREMENTAL`, set when the file is created). Every
  dropped row that a sink had not yet acknowledged is counted for that sink (persisted, shown by
  `stats()`), never silent. The bound holds after each accepted batch to within that batch.

A full disk (`StoreFull`) never loses what was committed and never leaves the object unusable:

- opened on a full disk, the outbox starts *degraded* and every later call retries the set-up;
- `put_many` raises `StoreFull` and stores nothing: the caller holds the batch and retries;
- `ack` and `count_dropped` keep the cursor move / drop count in memory when the disk is full and
  write it with the next write that succeeds (reads already go by the in-memory cursor, so a sink
  is never sent a confirmed row again while the process lives).

The class is synchronous and thread-safe (one connection behind a lock); `AsyncOutbox` runs each
call in a worker thread so the event loop never waits on a disk.
"""

from __future__ import annotations

import bisect
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.config.site import LocalStoreSink
from agent.errors import SinkError, StoreFull
from agent.outbox.codec import carries_counter, decode_result, encode_result
from agent.readings.model import PollResult
from agent.storage import store_error

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
# The WAL's share of the size bound, in pages (1,000 is SQLite's own auto-checkpoint default).
_WAL_SHARE = 8
_WAL_MIN_PAGES = 16
_WAL_MAX_PAGES = 1000
_SHM_BYTES = 32 * 1024  # the WAL index for up to 4,062 WAL pages

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
        self.dropped_by_bounds = 0  # rows the size and age bounds dropped since opened
        self._sinks = tuple(sinks)
        self._accept_sync = accept_sync
        self._is_counter = is_counter
        self._clock = clock
        self._lock = threading.Lock()
        self._next_age_check = 0.0
        self._boots: list[tuple[int, float]] = []  # (first row id, started), ascending
        self._readers = len(sinks)  # each row is read once per sink: the codec's cache keeps it that long
        self._ready = False
        self._page_size = 4096  # SQLite's default until the file says otherwise
        # The cursors by sink: what reads go by, and what the file holds (written when it can be).
        self._cursors: dict[str, int] = dict.fromkeys(self._sinks, 0)
        self._saved_cursors: dict[str, int] = {}
        self._unsaved_drops: dict[str, int] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise SinkError(f"outbox {path}: cannot open: {exc}") from exc
        with contextlib.suppress(StoreFull):  # degraded: every later call retries the set-up
            self._setup()

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

    @property
    def ready(self) -> bool:
        """False while the file could not be set up (opened on a full disk); calls retry it."""
        return self._ready

    @property
    def wal_budget(self) -> int:
        """Bytes of the size bound the WAL may use (checkpointed beyond it)."""
        pages = min(max(self.max_bytes // _WAL_SHARE // self._page_size, _WAL_MIN_PAGES), _WAL_MAX_PAGES)
        return pages * self._page_size

    @property
    def row_budget(self) -> int:
        """Bytes of the size bound the database file's pages may use (the rest is WAL and index)."""
        return max(self.max_bytes - self.wal_budget - _SHM_BYTES, 4 * self._page_size)

    def _setup(self) -> None:
        db = self._db
        try:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect only while the file is new
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
            db.execute(f"PRAGMA wal_autocheckpoint={self.wal_budget // self._page_size}")
            db.execute(f"PRAGMA journal_size_limit={self.wal_budget}")
            db.executescript(_SCHEMA)
            with self._transaction():
                db.executemany(
                    "INSERT OR IGNORE INTO cursors (sink, last_id) VALUES (?, 0)",
                    [(s,) for s in self._sinks],
                )
                marks = ",".join("?" * len(self._sinks))
                db.execute(f"DELETE FROM cursors WHERE sink NOT IN ({marks})", self._sinks)
                self._prune()
                self._record_boot()
            saved = {str(sink): int(last) for sink, last in db.execute("SELECT sink, last_id FROM cursors")}
        except sqlite3.Error as exc:
            raise store_error(f"outbox {self.path}: cannot open", exc) from exc
        self._saved_cursors = saved
        self._cursors = dict(saved)
        self._ready = True

    def _ensure_ready(self) -> None:
        if not self._ready:
            self._setup()

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
            if self._ready:
                with contextlib.suppress(SinkError):
                    self._save_state()
            self._db.close()

    # --- transactions --------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # --- accept ---------------------------------------------------------------------------------

    def put_many(self, results: Iterable[PollResult]) -> int:
        """Store a batch in one transaction; returns the last row id (0 for an empty batch).

        When this returns, the batch is on disk (see the module docstring for the fsync policy).
        Raises `StoreFull` (nothing stored; retry later) when the disk is full.
        """
        rows = [(r.ts, r.device, int(self._is_counter(r)), encode_result(r)) for r in results]
        if not rows:
            return 0
        incoming = sum(len(body) + _ROW_OVERHEAD for *_, body in rows)
        with self._lock:
            self._ensure_ready()
            pending = self._pending_state()
            self._db.execute(f"PRAGMA synchronous={self._accept_sync}")
            try:
                with self._transaction():
                    self._write_state(pending)
                    dropped = self._make_room(incoming)
                    self._db.executemany(
                        "INSERT INTO rows (ts, device, has_counter, body) VALUES (?, ?, ?, ?)", rows
                    )
                    dropped += self._drop_expired()
                    last = self._db.execute("SELECT max(id) FROM rows").fetchone()[0]
            except sqlite3.Error as exc:
                raise store_error(f"outbox {self.path}: cannot store {len(rows)} polls", exc) from exc
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._state_written(pending)
            self.dropped_by_bounds += dropped
            self._shrink()  # the batch is committed: what fails here is retried after the next one
        return int(last)

    # --- read / ack -----------------------------------------------------------------------------

    def read_after(self, sink: str, limit: int) -> list[OutboxRow]:
        """Up to `limit` rows after the sink's cursor, in accept order (none while degraded)."""
        with self._lock:
            cursor = self._cursor(sink)
            if not self._ready:
                try:
                    self._setup()
                except StoreFull:
                    return []
                cursor = self._cursor(sink)
            try:
                fetched = self._db.execute(
                    "SELECT id, body FROM rows WHERE id > ? ORDER BY id LIMIT ?", (cursor, limit)
                ).fetchall()
            except sqlite3.Error as exc:
                raise store_error(f"outbox {self.path}: cannot read", exc) from exc
        readers = self._readers
        return [
            OutboxRow(row_id, decode_result(body, readers), self._boot_of(row_id)) for row_id, body in fetched
        ]

    def ack(self, sink: str, last_id: int) -> None:
        """The far side confirmed every row up to `last_id`: move the cursor, prune passed rows.

        On a full disk the move is kept in memory and written with the next write that succeeds.
        """
        with self._lock:
            self._cursors[sink] = max(self._cursor(sink), last_id)
            self._try_save_state()

    def count_dropped(self, sink: str, rows: int) -> None:
        """Record rows a sink gave up on (e.g. refused by the server as bad data)."""
        with self._lock:
            self._cursor(sink)
            self._unsaved_drops[sink] = self._unsaved_drops.get(sink, 0) + rows
            self._try_save_state()

    def _cursor(self, sink: str) -> int:
        found = self._cursors.get(sink)
        if found is None:
            raise SinkError(f"outbox {self.path}: unknown sink {sink!r}")
        return found

    def _prune(self) -> None:
        self._db.execute("DELETE FROM rows WHERE id <= (SELECT min(last_id) FROM cursors)")

    # --- cursor and drop-count state (memory first, the file when it can) -----------------------

    def _pending_state(self) -> tuple[dict[str, int], dict[str, int]]:
        moved = {s: c for s, c in self._cursors.items() if self._saved_cursors.get(s) != c}
        return moved, dict(self._unsaved_drops)

    def _write_state(self, pending: tuple[dict[str, int], dict[str, int]]) -> None:
        moved, drops = pending
        self._db.executemany(
            "UPDATE cursors SET last_id = max(last_id, ?) WHERE sink = ?", [(c, s) for s, c in moved.items()]
        )
        self._db.executemany(
            "UPDATE cursors SET dropped = dropped + ? WHERE sink = ?", [(n, s) for s, n in drops.items()]
        )
        if moved:
            self._prune()

    def _state_written(self, pending: tuple[dict[str, int], dict[str, int]]) -> None:
        moved, drops = pending
        self._saved_cursors.update(moved)
        for sink, rows in drops.items():
            left = self._unsaved_drops.pop(sink, 0) - rows
            if left:
                self._unsaved_drops[sink] = left

    def _save_state(self) -> None:
        pending = self._pending_state()
        if not any(pending):
            return
        try:
            with self._transaction():
                self._write_state(pending)
        except sqlite3.Error as exc:
            raise store_error(f"outbox {self.path}: cannot move cursors", exc) from exc
        self._state_written(pending)

    def _try_save_state(self) -> None:
        if not self._ready:
            return
        with contextlib.suppress(StoreFull):  # kept in memory; the next write that succeeds saves it
            self._save_state()

    # --- bounds ---------------------------------------------------------------------------------

    def disk_bytes(self) -> int:
        """Bytes the outbox occupies on disk: the database file, its WAL and the WAL index."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                total += (self.path.parent / (self.path.name + suffix)).stat().st_size
        return total

    def bytes_used(self) -> int:
        """What the size bound is compared with (`disk_bytes`)."""
        return self.disk_bytes()

    def _live_bytes(self) -> int:
        """Bytes of the database's pages in use (freed pages are reused by SQLite, so they do not count)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * self._page_size)

    def enforce_bounds(self) -> int:
        """Apply the age and size bounds now; returns the number of rows dropped."""
        with self._lock:
            self._ensure_ready()
            self._next_age_check = 0.0
            try:
                with self._transaction():
                    dropped = self._enforce_bounds(0)
            except sqlite3.Error as exc:
                raise store_error(f"outbox {self.path}: cannot apply the bounds", exc) from exc
            self.dropped_by_bounds += dropped
            self._shrink()
        return dropped

    def _enforce_bounds(self, incoming: int) -> int:
        return self._drop_expired() + self._make_room(incoming)

    def _drop_expired(self) -> int:
        """Rows older than the age bound (checked once a minute: the query scans the table)."""
        now = self._clock()
        if now < self._next_age_check:
            return 0
        self._next_age_check = now + _AGE_CHECK_EVERY_S
        return self._drop_older_than(now - self.max_age_s)

    def _make_room(self, incoming: int) -> int:
        """Drop the oldest rows (gauge-only first) until `incoming` bytes of new rows fit the row budget."""
        dropped = 0
        budget = self.row_budget
        for has_counter in (0, 1):
            live = self._live_bytes()
            if live + incoming <= budget:
                break
            dropped += self._drop_bytes(live + incoming - int(budget * _DROP_TARGET), has_counter)
        return dropped

    def _shrink(self) -> None:
        """Keep the files within the bound: give free pages beyond the row budget back to the file
        system, and fold the WAL into the database (truncating it) when it outgrew its budget.
        Never raises: on a full disk SQLite's own checkpoints and the next batch try again."""
        with contextlib.suppress(sqlite3.Error):
            shrunk = self._release_pages()
            if shrunk or self._wal_bytes() > self.wal_budget:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _release_pages(self) -> bool:
        """Vacuum the free pages when the file is larger than the row budget; True if it did.

        Files made before auto_vacuum was set keep their size (SQLite reuses their free pages)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        if not free or pages * self._page_size <= self.row_budget:
            return False
        if not self._db.execute("PRAGMA auto_vacuum").fetchone()[0]:
            return False
        # executescript steps the pragma to the end (execute() frees one page per step taken).
        self._db.executescript("PRAGMA incremental_vacuum;")
        return True

    def _wal_bytes(self) -> int:
        try:
            return (self.path.parent / (self.path.name + "-wal")).stat().st_size
        except FileNotFoundError:
            return 0

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
        for sink, cursor in self._cursors.items():
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
            used = self.disk_bytes()
            if not self._ready:
                sinks = [
                    SinkCursorStats(s, c, 0, 0.0, self._unsaved_drops.get(s, 0))
                    for s, c in self._cursors.items()
                ]
                return OutboxStats(0, used, self.max_bytes, None, tuple(sorted(sinks, key=lambda s: s.sink)))
            try:
                rows, oldest = self._db.execute("SELECT count(*), min(ts) FROM rows").fetchone()
                sinks = [
                    self._sink_stats(sink, dropped, now)
                    for sink, dropped in self._db.execute("SELECT sink, dropped FROM cursors ORDER BY sink")
                ]
            except sqlite3.Error as exc:
                raise store_error(f"outbox {self.path}: cannot read its statistics", exc) from exc
        return OutboxStats(
            rows=int(rows), bytes_used=used, max_bytes=self.max_bytes, oldest_ts=oldest, sinks=tuple(sinks)
        )

    def _sink_stats(self, sink: str, dropped: int, now: float) -> SinkCursorStats:
        cursor = self._cursors.get(sink, 0)
        lag_rows, first_ts = self._db.execute(
            "SELECT count(*), (SELECT ts FROM rows WHERE id > ?1 ORDER BY id LIMIT 1) "
            "FROM rows WHERE id > ?1",
            (cursor,),
        ).fetchone()
        lag_s = max(0.0, now - first_ts) if first_ts is not None else 0.0
        return SinkCursorStats(
            sink=sink,
            cursor=cursor,
            lag_rows=int(lag_rows),
            lag_s=lag_s,
            dropped=int(dropped) + self._unsaved_drops.get(sink, 0),
        )


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error (sqlite3's own handling is implicit and lazy).

    SQLite rolls a transaction back by itself on some errors (a full disk among them), so ROLLBACK
    is only sent while one is still open: otherwise its own error would hide the real one.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            self._db.execute("ROLLBACK")
