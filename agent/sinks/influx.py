"""The InfluxDB sink: the only module that talks to InfluxDB.

Rows from the outbox become line protocol (agent.sinks.payloads, one line per poll) and are written
in pre-built batches, one HTTP POST per batch, in a worker thread, so it never blocks the event loop.
The v2 write API (`/api/v2/write?org=&bucket=&precision=ms`, `Authorization: Token ...`, the same
request influxdb-client's synchronous WriteApi sends) is spoken with the standard library: importing
influxdb-client for one POST cost the agent ~40 MB of RSS (it pulls in numpy and reactivex) and a
third of a second at start (docs/performance.md). A row is delivered when the server
answered 2xx; writing a point twice is harmless (same series and time: the value is replaced), so
resending after a failure is safe.

Errors, translated here:
- 429 / 503 and connection problems: `WriteRetryable` (honouring Retry-After); the forwarder backs
  off and resends from the cursor.
- 400 / 413 / 422 (bad data): `WriteRejected`. The batch is bisected to the offending line(s), which
  are logged, counted and skipped, so one bad point never blocks the queue.

`api: v1` writes to `/write?db=` (InfluxDB 1.x, also accepted by VictoriaMetrics).
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import gzip
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence

from agent.config.site import InfluxSink
from agent.errors import SinkError
from agent.outbox.forwarder import Delivery
from agent.outbox.store import OutboxRow
from agent.sinks.payloads import lines_for

__all__ = [
    "InfluxPublisher",
    "InfluxWriter",
    "LineWriter",
    "WriteRejected",
    "WriteRetryable",
    "find_bad_lines",
]

log = logging.getLogger(__name__)

_DATA_ERRORS = frozenset({400, 413, 422})


class WriteRetryable(SinkError):
    """The server is busy or unreachable: try the same lines again later."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WriteRejected(SinkError):
    """The server refused the data itself (bad line, type conflict): resending will not help."""


LineWriter = Callable[[Sequence[str]], Awaitable[None]]
"""Writes lines or raises WriteRetryable / WriteRejected / SinkError (the seam tests use)."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _classify(status: int, reason: str, headers: Mapping[str, str] | None, where: str) -> SinkError:
    message = f"{where}: HTTP {status}: {reason}"
    if status in _DATA_ERRORS:
        return WriteRejected(message)
    retry_after = retry_after_seconds((headers or {}).get("Retry-After"))
    return WriteRetryable(message, retry_after)


class InfluxWriter:
    """A LineWriter for a real server (v2 `/api/v2/write`, or v1 `/write?db=`)."""

    def __init__(self, config: InfluxSink) -> None:
        self.config = config
        self.where = f"influxdb {config.url}"
        base = config.url.rstrip("/")
        if config.api == "v1":
            query = urllib.parse.urlencode({"db": config.database or config.bucket, "precision": "ms"})
            self._url = f"{base}/write?{query}"
        else:
            query = urllib.parse.urlencode({"org": config.org, "bucket": config.bucket, "precision": "ms"})
            self._url = f"{base}/api/v2/write?{query}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if config.gzip:
            self._headers["Content-Encoding"] = "gzip"
        if config.token is not None:
            secret = config.token.get_secret_value()
            if config.api == "v1":  # v1 credentials are "user:password" in the token field
                self._headers["Authorization"] = f"Basic {base64.b64encode(secret.encode()).decode()}"
            else:
                self._headers["Authorization"] = f"Token {secret}"

    async def __call__(self, lines: Sequence[str]) -> None:
        await asyncio.to_thread(self._post, "\n".join(lines))

    def _post(self, body: str) -> None:
        data = body.encode()
        if self.config.gzip:
            data = gzip.compress(data, compresslevel=1)
        request = urllib.request.Request(self._url, data=data, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s):
                pass
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise _classify(exc.code, detail, dict(exc.headers), self.where) from exc
        except OSError as exc:
            raise WriteRetryable(f"{self.where}: {exc}") from exc

    def close(self) -> None:
        """Nothing held open: each batch is one request."""


async def find_bad_lines(lines: Sequence[str], write: LineWriter) -> list[int]:
    """Write `lines`, bisecting on WriteRejected; returns the indices of the lines refused alone.

    Every good line ends up written (some twice, which Influx treats as the same point).
    WriteRetryable propagates: the caller retries the whole batch later.
    """
    try:
        await write(lines)
    except WriteRejected:
        if len(lines) == 1:
            return [0]
        middle = len(lines) // 2
        left = await find_bad_lines(lines[:middle], write)
        right = await find_bad_lines(lines[middle:], write)
        return left + [middle + i for i in right]
    return []


class InfluxPublisher:
    """Forwarder `Sink` for InfluxDB: batches of line protocol, bad lines isolated and counted."""

    def __init__(
        self, config: InfluxSink, *, writer: LineWriter | None = None, name: str = "influxdb"
    ) -> None:
        self.config = config
        self._name = name
        self._writer: LineWriter = writer if writer is not None else InfluxWriter(config)
        self.rejected_lines = 0

    @property
    def name(self) -> str:
        return self._name

    async def deliver(self, rows: Sequence[OutboxRow]) -> Delivery:
        size = self.config.batch_size
        rejected = 0
        acked: int | None = None
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            lines = await asyncio.to_thread(lines_for, [row.result for row in chunk])
            try:
                bad = await find_bad_lines(lines, self._writer)
            except WriteRetryable as exc:
                return Delivery(acked, rejected, str(exc), exc.retry_after_s)
            except SinkError as exc:
                return Delivery(acked, rejected, str(exc))
            for index in bad:
                self._log_rejected(chunk[index], lines[index])
            rejected += len(bad)
            self.rejected_lines += len(bad)
            acked = chunk[-1].id
        return Delivery(acked_through=acked, rejected=rejected)

    def _log_rejected(self, row: OutboxRow, line: str) -> None:
        result = row.result
        log.warning(
            "influxdb: skipped a poll the server refused as bad data: device %s seq %d ts %s: %.300s",
            result.device,
            result.seq,
            result.ts,
            line,
        )

    def close(self) -> None:
        if isinstance(self._writer, InfluxWriter):
            self._writer.close()
