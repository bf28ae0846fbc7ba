"""The InfluxDB sink: the only module that imports influxdb-client.

Rows from the outbox become line protocol (agent.sinks.payloads, one line per poll) and are written
in pre-built batches through influxdb-client's public write service: one synchronous
`WriteService.post_write(org, bucket, body, precision="ms", content_encoding=...)` per batch (the
call `WriteApi.write` makes for a synchronous write), in a worker thread, so it never blocks the
event loop. Not `WriteApi.write` itself: with gzip on, the client compresses every body at level 9
and has no setting for it, which cost 2.5 ms of CPU per 40-line batch against 0.8 ms at level 1
(about 1.4 µs per point at 200 devices, docs/performance.md); `post_write` documents sending a body
the caller compressed (`content_encoding="gzip"`), so the batch is compressed here at level 1. The
client's own retry is off (`retries=False`): the forwarder's backoff and Retry-After rule, and the
outbox keeps what was not confirmed. A row is delivered when the server answered 2xx; writing a
point twice is harmless (same series and time: the value is replaced), so resending after a
failure is safe.

influxdb-client is imported only when an InfluxDB sink is configured (`InfluxWriter()`): the
import costs about a second of CPU and ~35 MB of RSS (it loads numpy, reactivex and its generated
API modules), which `validate`, `read` and an MQTT-only `run` do not pay (docs/performance.md).

Errors, translated here:
- 429 / 503 and other server errors, connection problems and timeouts: `WriteRetryable`
  (honouring Retry-After); the forwarder backs off and resends from the cursor.
- 400 / 413 / 422 (bad data): `WriteRejected`. The batch is bisected to the offending line(s), which
  are logged, counted and skipped, so one bad point never blocks the queue.

`api: v1` uses the InfluxDB 1.8+ compatibility of the same endpoint, as influxdb-client documents
it: token `user:password`, bucket `database/retention_policy` (or `database`), org `-`. InfluxDB
1.7 and older have no `/api/v2/write` and are not supported.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agent.config.site import InfluxSink
from agent.errors import SinkError
from agent.outbox.forwarder import Delivery
from agent.outbox.store import OutboxRow
from agent.sinks.payloads import lines_for

if TYPE_CHECKING:
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.service.write_service import WriteService

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
    """A LineWriter for a real server, through influxdb-client's synchronous write service."""

    def __init__(self, config: InfluxSink) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.service.write_service import WriteService

        self.config = config
        self.where = f"influxdb {config.url}"
        secret = config.token.get_secret_value() if config.token is not None else ""  # "": no header
        if config.api == "v1":  # 1.8+ compatibility: "user:password" as the token, org "-"
            self._bucket, self._org = config.database or config.bucket, "-"
        else:
            self._bucket, self._org = config.bucket, config.org
        self._precision: Any = WritePrecision.MS  # a str constant, typed as the class
        self._client: InfluxDBClient = InfluxDBClient(
            url=config.url,
            token=secret,
            org=self._org,
            timeout=round(config.timeout_s * 1000),
            enable_gzip=False,  # compressed here, at level 1 (the client would use 9)
            retries=False,  # ours rule (the forwarder's backoff, Retry-After)
        )
        self._service: WriteService = WriteService(self._client.api_client)  # type: ignore[no-untyped-call]
        self._encoding = "gzip" if config.gzip else "identity"

    async def __call__(self, lines: Sequence[str]) -> None:
        await asyncio.to_thread(self._write, "\n".join(lines))

    def _write(self, body: str) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from urllib3.exceptions import HTTPError

        try:
            self._service.post_write(  # type: ignore[no-untyped-call]
                org=self._org,
                bucket=self._bucket,
                body=gzip.compress(body.encode(), compresslevel=1) if self.config.gzip else body.encode(),
                precision=self._precision,
                content_encoding=self._encoding,
                content_type="text/plain; charset=utf-8",
            )
        except InfluxDBError as exc:
            raise _translate(exc, self.where) from exc
        except (HTTPError, OSError) as exc:  # refused, reset, timed out (urllib3 without retries)
            raise WriteRetryable(f"{self.where}: {exc}") from exc

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _translate(exc: Any, where: str) -> SinkError:
    """An InfluxDBError (ApiException: `status`, `headers`, `message`, `retry_after`) as ours."""
    status = getattr(exc, "status", None)
    message = str(getattr(exc, "message", "") or exc)[:500]
    if not isinstance(status, int) or status == 0:  # the client's own failure, e.g. TLS
        return WriteRetryable(f"{where}: {message}")
    headers = getattr(exc, "headers", None)
    retry_after = getattr(exc, "retry_after", None) or (headers or {}).get("Retry-After")
    return _classify(status, message, {"Retry-After": retry_after} if retry_after else None, where)


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
