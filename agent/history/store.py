"""The local interval store that analytics and the dashboard read.

One SQLite file (WAL) with two tables:
- `energy`: interval energy per device (kWh per interval start), with how it was obtained
  (`counter` delta, `integrated` power, `imported` from a file) and its quality;
- `series`: any other interval series by name (production, outdoor temperature, compressor loaded and
  running hours, free air delivered, pressure ...; names in `agent/mv/series.py`), one value per
  interval start, with its quality (`good` complete, `partial` some of the interval covered, `bad`
  not usable) and completeness (share of the interval covered by good data, 0..1), so the analytics
  can tell an interval seen for 3 minutes from a full one. Imported series are `good`, 1.0.

A file written before series had quality is migrated when opened (the two columns are added with
their defaults: what was stored counts as good and complete, as it did before).

Writes are idempotent upserts keyed by (device or name, start), so re-importing a file or replaying
an outbox never double-counts. Frames come back with a tz-aware UTC index.

A full disk raises `StoreFull` from the write methods (nothing half-written; the caller decides what
to keep) and from `devices`, `series_names` and `span` (a WAL file cannot even be read without room
for its index). Opened on a full disk, the store starts without its set-up and each write retries it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from agent.errors import StoreFull
from agent.storage import store_error

if TYPE_CHECKING:  # pandas loads where frames are built, never on the poll path
    import pandas as pd

__all__ = ["EnergyRow", "HistoryStore", "SeriesRow", "has_energy"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS energy (
    device TEXT NOT NULL,
    start INTEGER NOT NULL,          -- interval start, UTC epoch seconds
    seconds INTEGER NOT NULL,        -- interval length
    kwh REAL NOT NULL,
    method TEXT NOT NULL,            -- counter | integrated | imported
    quality TEXT NOT NULL,           -- good | stale | bad
    completeness REAL NOT NULL,      -- share of the interval covered by good data, 0..1
    PRIMARY KEY (device, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    name TEXT NOT NULL,
    start INTEGER NOT NULL,
    value REAL NOT NULL,
    quality TEXT NOT NULL DEFAULT 'good',   -- good | partial | bad
    completeness REAL NOT NULL DEFAULT 1.0, -- share of the interval covered by good data, 0..1
    PRIMARY KEY (name, start)
) WITHOUT ROWID;
"""

# Columns added to `series` after files existed without them (a migration for each, in order).
_SERIES_MIGRATIONS = (
    ("quality", "ALTER TABLE series ADD COLUMN quality TEXT NOT NULL DEFAULT 'good'"),
    ("completeness", "ALTER TABLE series ADD COLUMN completeness REAL NOT NULL DEFAULT 1.0"),
)


@dataclass(frozen=True, slots=True)
class EnergyRow:
    device: str
    start: int
    seconds: int
    kwh: float
    method: str = "counter"
    quality: str = "good"
    completeness: float = 1.0


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """One interval of a named series (what the live recorder writes)."""

    name: str
    start: int  # interval start, UTC epoch seconds
    value: float
    quality: str = "good"  # good | partial | bad
    completeness: float = 1.0


class HistoryStore:
    """Interval history in one SQLite file. Not thread-safe: one owner (use it from one thread)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._ready = False
        with contextlib.suppress(StoreFull):  # a full disk: the first write retries the set-up
            self._setup()

    def _setup(self) -> None:
        with self._writing("open"):
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
        self._ready = True

    def _migrate(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(series)")}
        with self._db:
            for column, statement in _SERIES_MIGRATIONS:
                if column not in columns:
                    self._db.execute(statement)

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """sqlite3 errors as the agent's: `StoreFull` for a full disk, else `SinkError`."""
        if what != "open" and not self._ready:
            self._setup()
        with self._reading(what):
            yield

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        # Reading a WAL file needs its 32 KiB index (-shm): on a full disk a read fails too.
        try:
            yield
        except sqlite3.Error as exc:
            raise store_error(f"history {self.path}: cannot {what}", exc) from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def write_energy(self, rows: Iterable[EnergyRow]) -> int:
        with self._writing("write energy"), self._db:
            cur = self._db.executemany(
                "INSERT OR REPLACE INTO energy VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((r.device, r.start, r.seconds, r.kwh, r.method, r.quality, r.completeness) for r in rows),
            )
        return cur.rowcount

    def write_series(self, name: str, values: pd.Series) -> int:
        """Upsert one named series; `values` has a tz-aware DatetimeIndex of interval starts."""
        starts = _epoch_seconds(values.index)
        with self._writing(f"write series {name}"), self._db:
            cur = self._db.executemany(
                "INSERT OR REPLACE INTO series (name, start, value) VALUES (?, ?, ?)",
                ((name, s, float(v)) for s, v in zip(starts, values.to_numpy(), strict=True) if v == v),
            )
        return cur.rowcount

    def write_series_rows(self, rows: Iterable[SeriesRow]) -> int:
        """Upsert series intervals with their quality and completeness (the live recorder's rows)."""
        with self._writing("write series rows"), self._db:
            cur = self._db.executemany(
                "INSERT OR REPLACE INTO series (name, start, value, quality, completeness)"
                " VALUES (?, ?, ?, ?, ?)",
                ((r.name, r.start, r.value, r.quality, r.completeness) for r in rows),
            )
        return cur.rowcount

    def write_energy_frame(self, frame: pd.DataFrame, seconds: int, method: str = "imported") -> int:
        """Upsert a wide frame (UTC index of interval starts, one column per device, kWh)."""
        starts = _epoch_seconds(frame.index)
        rows = (
            EnergyRow(str(device), int(s), seconds, float(v), method)
            for device in frame.columns
            for s, v in zip(starts, frame[device].to_numpy(), strict=True)
            if v == v  # NaN: no data, not zero
        )
        return self.write_energy(rows)

    def devices(self) -> list[str]:
        with self._reading("read devices"):
            return [r[0] for r in self._db.execute("SELECT DISTINCT device FROM energy ORDER BY device")]

    def series_names(self) -> list[str]:
        with self._reading("read series names"):
            return [r[0] for r in self._db.execute("SELECT DISTINCT name FROM series ORDER BY name")]

    def span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        with self._reading("read span"):
            row = self._db.execute("SELECT MIN(start), MAX(start + seconds) FROM energy").fetchone()
        if row[0] is None:
            return None
        import pandas as pd

        return pd.Timestamp(row[0], unit="s", tz="UTC"), pd.Timestamp(row[1], unit="s", tz="UTC")

    def energy(
        self,
        devices: Sequence[str] | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        good_only: bool = True,
    ) -> pd.DataFrame:
        """Wide frame: UTC index of interval starts, one kWh column per device (NaN where missing)."""
        sql = "SELECT device, start, kwh FROM energy WHERE start >= ? AND start < ?"
        args: list[str | int] = [_bound(start, 0), _bound(end, 2**62)]
        if good_only:
            sql += " AND quality != 'bad'"
        if devices is not None:
            sql += f" AND device IN ({','.join('?' * len(devices))})"
            args.extend(devices)
        import pandas as pd

        long = pd.read_sql_query(sql, self._db, params=args)
        wide = long.pivot(index="start", columns="device", values="kwh") if len(long) else pd.DataFrame()
        return _with_utc_index(wide, devices)

    def series(
        self,
        names: Sequence[str],
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        good_only: bool = True,
    ) -> pd.DataFrame:
        """Wide frame of the named series (NaN where missing); `bad` intervals are left out unless
        `good_only` is False. Partial intervals are included: `series_completeness` tells them apart."""
        return self._series_column("value", names, start, end, good_only)

    def series_completeness(
        self, names: Sequence[str], start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Same shape as `series(..., good_only=False)`: each interval's completeness, 0..1."""
        return self._series_column("completeness", names, start, end, False)

    def _series_column(
        self,
        column: str,
        names: Sequence[str],
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
        good_only: bool,
    ) -> pd.DataFrame:
        sql = (
            f"SELECT name, start, {column} AS v FROM series WHERE name IN ({','.join('?' * len(names))})"
            " AND start >= ? AND start < ?"
        )
        if good_only:
            sql += " AND quality != 'bad'"
        import pandas as pd

        long = pd.read_sql_query(sql, self._db, params=[*names, _bound(start, 0), _bound(end, 2**62)])
        wide = long.pivot(index="start", columns="name", values="v") if len(long) else pd.DataFrame()
        return _with_utc_index(wide, names)


def _epoch_seconds(index: pd.Index) -> list[int]:
    import pandas as pd

    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("history needs a tz-aware DatetimeIndex of interval starts")
    seconds: list[int] = index.as_unit("s").asi8.tolist()  # vectorised: a year of rows per series
    return seconds


def _bound(ts: pd.Timestamp | None, default: int) -> int:
    return default if ts is None else int(ts.timestamp())


def _with_utc_index(wide: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    import pandas as pd

    wide.index = (
        pd.to_datetime(wide.index.astype("int64"), unit="s", utc=True)
        if len(wide)
        else pd.DatetimeIndex([], tz="UTC")
    )
    wide.index.name = "start"
    wide.columns.name = None
    if columns is not None:
        wide = wide.reindex(columns=list(columns))
    return wide.sort_index()


def has_energy(path: Path) -> bool:
    """Whether the history file exists and holds interval energy of any device (a cheap check that
    spares a gateway that only polls the analytics' imports)."""
    if not path.exists():
        return False
    with HistoryStore(path) as store:
        return bool(store.devices())
