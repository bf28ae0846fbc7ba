"""What the agent's SQLite stores (outbox, history) share: telling a full disk from other failures.

A full disk shows up in two forms: `SQLITE_FULL` when a write finds no room, and
`SQLITE_IOERR_SHMSIZE` when a WAL database is opened (or first read) and SQLite cannot extend its
shared-memory index file (`-shm`, 32 KiB). Both clear by themselves once space returns, so callers
hold their data and retry; every other SQLite error stays a plain `SinkError`.
"""

from __future__ import annotations

import sqlite3

from agent.errors import SinkError, StoreFull

__all__ = ["is_disk_full", "store_error"]

_FULL_CODES = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR_SHMSIZE})


def is_disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _FULL_CODES


def store_error(what: str, exc: sqlite3.Error) -> SinkError:
    """`StoreFull` for a full disk, else `SinkError`; `what` names the file and the action."""
    if is_disk_full(exc):
        return StoreFull(f"{what}: disk full ({exc})")
    return SinkError(f"{what}: {exc}")
