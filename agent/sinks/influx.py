"""The InfluxDB sink: the only module that imports influxdb_client.

Rows from the outbox become line protocol (agent.sinks.payloads, one line per poll) and are written
in pre-built batches with the synchronous write API in a worker thread: the fastest path measured
against VictoriaMetrics, and it never blocks the event loop. A row is delivered when the server
answered 2xx; writing a point twice is harmless (same series and time: the value is replaced), so
resending after a failure is safe.

Errors, translated here:
- 429 / 503 and connection problems: `WriteRetryable` (honouring Retry-After); the forwarder backs
  off and resends from the cursor.
- 400 / 413 / 422 (bad data): `WriteRejected`. The batch is bisected to the offending line(s), which
  are logged, counted and skipped, so one bad point never blocks the queue.

`api: v1` writes to `/write?db=` (InfluxDB 1.x, also accepted by VictoriaMetrics) with the standard
library, as influxdb-client only speaks the v2 API.
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

import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

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
    """A LineWriter for a real server (v2 write API via influxdb-client, or v1 `/write?db=`)."""

    def __init__(self, config: InfluxSink) -> None:
        self.config = config
        self.where = f"influxdb {config.url}"
        token = config.token.get_secret_value() if config.token is not None else ""
        self._client = InfluxDBClient(
            url=config.url,
            token=token,
            org=config.org,
            timeout=int(config.timeout_s * 1000),
            enable_gzip=config.gzip,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    async def __call__(self, lines: Sequence[str]) -> None:
        body = "\n".join(lines)
        if self.config.api == "v1":
            await asyncio.to_thread(self._write_v1, body)
        else:
            await asyncio.to_thread(self._write_v2, body)

    def _write_v2(self, body: str) -> None:
        try:
            self._write_api.write(
                bucket=self.config.bucket,
                org=self.config.org,
                record=body,
                # The library's precision constants are plain strings typed as the enum class.
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except ApiException as exc:
            body_text = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
            raise _classify(int(exc.status or 0), body_text[:500], exc.headers, self.where) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise WriteRetryable(f"{self.where}: {exc}") from exc

    def _write_v1(self, body: str) -> None:
        database = self.config.database or self.config.bucket
        query = urllib.parse.urlencode({"db": database, "precision": "ms"})
        data = body.encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.config.gzip:
            data = gzip.compress(data, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        if self.config.token is not None:
            # v1 credentials are "user:password" in the token field.
            credentials = base64.b64encode(self.config.token.get_secret_value().encode()).decode()
            headers["Authorization"] = f"Basic {credentials}"
        request = urllib.request.Request(
            f"{self.config.url.rstrip('/')}/write?{query}", data=data, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s):
                pass
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise _classify(exc.code, detail, dict(exc.headers), self.where) from exc
        except OSError as exc:
            raise WriteRetryable(f"{self.where}: {exc}") from exc

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


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
