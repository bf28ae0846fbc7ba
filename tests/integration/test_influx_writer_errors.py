"""The InfluxDB writer (influxdb-client's synchronous write service) against a misbehaving HTTP server in
this file: each refusal is translated into our errors (Retry-After kept, bad data told apart from a
busy server), the client does not retry behind the forwarder's back, and a server that never answers
or a closed port is a retryable error after the configured timeout. influxdb-client is loaded only
once an InfluxDB sink is configured."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from agent.config.site import InfluxSink
from agent.sinks.influx import InfluxWriter, WriteRejected, WriteRetryable

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class Server:
    """Answers each request with the next canned response; records what it was sent."""

    def __init__(self, responses: list[bytes | None]) -> None:
        self.responses = responses
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                response = self.responses.pop(0) if self.responses else None
                if response is None:  # hang: never answer
                    await asyncio.sleep(3600)
                    return
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def http(status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def serve(responses: list[bytes | None]) -> AsyncIterator[Server]:
    server = Server(responses)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


@pytest.fixture
async def busy() -> AsyncIterator[Server]:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    async for server in serve(
        [
            http("429 Too Many Requests", {"Retry-After": "7"}, b'{"code":"too many requests"}'),
            http("503 Service Unavailable", {"Retry-After": later}),
            http("400 Bad Request", body=b'{"code":"invalid","message":"unable to parse \'x y\'"}'),
            http("413 Request Entity Too Large"),
            http("204 No Content"),
        ]
    ):
        yield server


def writer_for(port: int, **overrides: object) -> InfluxWriter:
    config = InfluxSink.model_validate(
        {"url": f"http://127.0.0.1:{port}", "token": SecretStr("t0ken"), "gzip": False, **overrides}
    )
    return InfluxWriter(config)


async def test_refusals_are_translated_with_retry_after_and_nothing_is_retried_by_the_client(
    busy: Server,
) -> None:
    writer = writer_for(busy.port, org="acme", bucket="plant")
    try:
        with pytest.raises(WriteRetryable, match="HTTP 429") as too_many:
            await writer(["m,site=a v=1 1000"])
        assert too_many.value.retry_after_s == 7.0
        with pytest.raises(WriteRetryable, match="HTTP 503") as unavailable:
            await writer(["m,site=a v=1 1000"])
        assert unavailable.value.retry_after_s is not None
        assert 25 <= unavailable.value.retry_after_s <= 31
        with pytest.raises(WriteRejected, match=r"HTTP 400: unable to parse 'x y'"):
            await writer(["x y"])
        with pytest.raises(WriteRejected, match="HTTP 413"):
            await writer(["m,site=a v=1 1000"])
        await writer(["m,site=a v=1 1000", "m,site=a v=2 2000"])
    finally:
        writer.close()
    assert len(busy.requests) == 5, "one request per write: the client's own retry is off"
    head, body = busy.requests[-1]
    request_line = head.split(b"\r\n")[0]
    assert request_line.startswith(b"POST /api/v2/write?")
    assert b"org=acme" in request_line
    assert b"bucket=plant" in request_line
    assert b"precision=ms" in request_line
    assert b"Authorization: Token t0ken" in head
    assert body == b"m,site=a v=1 1000\nm,site=a v=2 2000"


async def test_v1_uses_the_1_8_compatibility_of_the_v2_endpoint() -> None:
    async for server in serve([http("204 No Content")]):
        writer = writer_for(server.port, api="v1", database="energy/autogen", token="user:pw")
        try:
            await writer(["m v=1 1000"])
        finally:
            writer.close()
        head, _ = server.requests[0]
        request_line = head.split(b"\r\n")[0]
        assert b"org=-" in request_line
        assert b"bucket=energy%2Fautogen" in request_line
        assert b"Authorization: Token user:pw" in head


async def test_gzip_sends_the_batch_compressed_and_says_so() -> None:
    async for server in serve([http("204 No Content")]):
        writer = writer_for(server.port, gzip=True)
        try:
            await writer(["m v=1 1000", "m v=2 2000"])
        finally:
            writer.close()
        head, body = server.requests[0]
        assert b"Content-Encoding: gzip" in head
        assert gzip.decompress(body) == b"m v=1 1000\nm v=2 2000"


async def test_a_server_that_never_answers_is_retryable_after_the_timeout() -> None:
    async for server in serve([None]):
        writer = writer_for(server.port, timeout_s=0.5)
        started = time.monotonic()
        try:
            with pytest.raises(WriteRetryable, match=r"influxdb http://127\.0\.0\.1"):
                await writer(["m v=1 1000"])
        finally:
            writer.close()
        assert time.monotonic() - started < 5


async def test_a_closed_port_is_retryable() -> None:
    async for server in serve([]):
        port = server.port
    writer = writer_for(port)
    try:
        with pytest.raises(WriteRetryable, match=r"influxdb http://127\.0\.0\.1"):
            await writer(["m v=1 1000"])
    finally:
        writer.close()


LAZY_CHILD = r"""
import sys
from agent.config.site import InfluxSink, MqttSink, SiteConfig
from agent.runtime.delivery import Delivery
import agent.cli
config = SiteConfig.model_validate({"site": {"name": "p"}, "sinks": {"mqtt": {}}})
Delivery(config, __import__("pathlib").Path(sys.argv[1]))
print("influxdb_client" in sys.modules, flush=True)
from agent.sinks.influx import InfluxPublisher
InfluxPublisher(InfluxSink())
print("influxdb_client" in sys.modules, flush=True)
"""


def test_influxdb_client_is_loaded_only_once_an_influx_sink_is_configured(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", LAZY_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.split() == ["False", "True"], out.stderr
