"""The MQTT sink: the only module that imports aiomqtt and paho-mqtt.

Telemetry comes from the outbox through a `Forwarder`; a row counts as delivered when the broker
confirmed it (PUBACK for QoS 1, PUBCOMP for QoS 2, the socket write for QoS 0). Up to
`max_inflight` publishes are outstanding at once; the cursor moves to the highest row confirmed
without a gap, so a lost connection resends exactly the unconfirmed tail, in order.

Status topics are retained and re-published on every (re)connect, so a broker that restarted empty
shows the current state again: agent online (its last will says offline), each device's last
availability, and the last rating. KPIs are not retained and not queued: one that cannot be sent is
counted in `unsent` (the next period's KPIs supersede it).

Telemetry bypasses aiomqtt's per-publish machinery and takes a few paho fast paths (see
`_AckRouter`): at 200 devices paho's PUBACK reading and bookkeeping were the sink's largest cost.

Library exceptions (aiomqtt.MqttError, OSError from sockets and TLS files) are translated here into
`Delivery.error` strings or `SinkError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiomqtt
import paho.mqtt as paho_package
import paho.mqtt.client as paho_mqtt
from paho.mqtt.enums import MQTTErrorCode

from agent.config.site import MqttSink
from agent.errors import SinkError
from agent.outbox.forwarder import Delivery
from agent.outbox.store import OutboxRow
from agent.sinks import payloads

__all__ = ["MqttPublisher"]

log = logging.getLogger(__name__)

_PROTOCOLS = {"3.1.1": aiomqtt.ProtocolVersion.V311, "5": aiomqtt.ProtocolVersion.V5}


class MqttPublisher:
    """One broker connection for telemetry (as a forwarder `Sink`) and the status topics."""

    def __init__(
        self,
        config: MqttSink,
        site: str,
        *,
        name: str = "mqtt",
        publish_timeout_s: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.site = site
        self._name = name
        self.publish_timeout_s = publish_timeout_s
        self._clock = clock
        self._client: aiomqtt.Client | None = None
        self._router: _AckRouter | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._connect_lock = asyncio.Lock()
        self._retained: dict[str, bytes] = {}
        self.unsent = 0
        self.connects = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def connected(self) -> bool:
        return self._client is not None and not self._lost.is_set()

    @property
    def where(self) -> str:
        return f"mqtt {self.config.host}:{self.config.port}"

    def _topic(self, *parts: str) -> str:
        return payloads.topic(self.config.prefix, self.site, *parts)

    # --- connection -----------------------------------------------------------------------------

    def _new_client(self) -> aiomqtt.Client:
        cfg = self.config
        password = cfg.password.get_secret_value() if cfg.password is not None else None
        tls_params = None
        if cfg.tls is not None:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
            )
        will = aiomqtt.Will(
            topic=self._topic("agent", "status"),
            payload=payloads.agent_status_payload(self.site, False, "connection_lost", None),
            qos=1,
            retain=True,
        )
        client = aiomqtt.Client(
            cfg.host,
            cfg.port,
            username=cfg.username,
            password=password,
            identifier=cfg.client_id or f"energy-agent-{self.site}",
            protocol=_PROTOCOLS[cfg.protocol],
            will=will,
            keepalive=cfg.keepalive_s,
            timeout=self.publish_timeout_s,
            # Unlimited in paho: its limit walks every unconfirmed message on each PUBACK
            # (`_update_inflight`); `_Window` keeps cfg.max_inflight for telemetry instead.
            max_inflight_messages=0,
            tls_params=tls_params,
            tls_insecure=cfg.tls.insecure if cfg.tls is not None else None,
        )
        return client

    async def _ensure_connected(self) -> aiomqtt.Client:
        async with self._connect_lock:
            if self._client is not None and not self._lost.is_set():
                return self._client
            await self._drop_connection()
            stack = contextlib.AsyncExitStack()
            client = self._new_client()
            router = _AckRouter(client, self.config.protocol)
            router.install()  # before the connect: it wraps the socket paho creates
            try:
                client = await stack.enter_async_context(client)
            except (aiomqtt.MqttError, OSError) as exc:
                await stack.aclose()
                raise SinkError(f"{self.where}: cannot connect: {exc}") from exc
            self._client, self._stack, self._router = client, stack, router
            self._lost = asyncio.Event()
            self._watcher = asyncio.create_task(self._watch(client, self._lost))
            self.connects += 1
            log.info("%s: connected", self.where)
            await self._announce(client)
            return client

    @staticmethod
    async def _watch(client: aiomqtt.Client, lost: asyncio.Event) -> None:
        # We subscribe to nothing, so the message iterator only ends when the connection drops; it is
        # aiomqtt's public way to learn that, and it unblocks publishes waiting for a PUBACK that
        # will never come.
        try:
            async for _ in client.messages:
                pass
        except aiomqtt.MqttError:
            pass
        finally:
            lost.set()

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Retained state after every connect: the broker may have restarted with nothing."""
        online = payloads.agent_status_payload(self.site, True, None, self._clock())
        messages = {self._topic("agent", "status"): online, **self._retained}
        for topic, payload in messages.items():
            await client.publish(topic, payload, qos=1, retain=True)

    async def _drop_connection(self) -> None:
        stack, watcher = self._stack, self._watcher
        self._client, self._stack, self._watcher, self._router = None, None, None, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if stack is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await stack.aclose()

    async def close(self, reason: str = "shutdown") -> None:
        """Say goodbye (retained offline with a reason) and disconnect cleanly."""
        if self.connected and self._client is not None:
            offline = payloads.agent_status_payload(self.site, False, reason, self._clock())
            with contextlib.suppress(aiomqtt.MqttError):
                await self._client.publish(self._topic("agent", "status"), offline, qos=1, retain=True)
        await self._drop_connection()

    # --- telemetry ------------------------------------------------------------------------------

    async def deliver(self, rows: Sequence[OutboxRow]) -> Delivery:
        try:
            client = await self._ensure_connected()
        except SinkError as exc:
            return Delivery(acked_through=None, error=str(exc))
        confirmed, error = await self._publish_window(client, rows)
        acked_through = rows[confirmed - 1].id if confirmed else None
        if error is not None:
            await self._drop_connection()
        return Delivery(acked_through=acked_through, error=error)

    async def _publish_window(
        self, client: aiomqtt.Client, rows: Sequence[OutboxRow]
    ) -> tuple[int, str | None]:
        """Publish the rows, at most `max_inflight` unconfirmed, and wait for the acks; returns
        (confirmed prefix, error).

        The window keeps the limit itself (paho's own, `_update_inflight`, walks every unconfirmed
        message on every PUBACK): the next row goes out when one is confirmed, so the broker sees
        the rows in outbox order. One aiomqtt `publish` per row cost a task, a semaphore, an Event
        and a `wait_for` task each (3.9 s of a 36 s profile at 200 devices)."""
        prefix, site, qos = self.config.prefix, self.site, self.config.qos
        build = payloads.telemetry_payload
        items = [
            (f"{prefix}/{site}/{row.result.device}/telemetry", build(row.result, row.boot)) for row in rows
        ]
        assert self._router is not None
        assert self._router.paho is client._client
        window = _Window(self._router, items, qos, self.config.max_inflight)
        window.pump()
        error = await self._await_acks(window)
        if window.refused is not None:
            # Rows after the refused one were never sent; what was confirmed before it counts.
            return window.prefix(), f"{self.where}: publish failed: {window.refused[1]}"
        return window.prefix(), error

    async def _await_acks(self, acks: _Window) -> str | None:
        """Until every ack, the connection is lost, or no ack came for `publish_timeout_s`."""
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            while not acks.done.done():
                seen = acks.count
                await asyncio.wait(
                    (acks.done, lost), timeout=self.publish_timeout_s, return_when=asyncio.FIRST_COMPLETED
                )
                if lost.done() and not acks.done.done():
                    unconfirmed = acks.total - acks.prefix()
                    return f"{self.where}: connection lost with {unconfirmed} messages unconfirmed"
                if acks.count == seen and not acks.done.done():
                    return (
                        f"{self.where}: publish failed: no acknowledgement for {self.publish_timeout_s:g} s"
                    )
        finally:
            lost.cancel()
            acks.done.cancel()
        return None

    # --- status, kpi, rating --------------------------------------------------------------------

    async def publish_device_status(self, device: str, online: bool, reason: str | None, ts: float) -> None:
        """Retained device availability; kept and re-published after every reconnect."""
        payload = payloads.device_status_payload(self.site, device, online, reason, ts)
        await self._publish_retained(self._topic(device, "status"), payload)

    async def publish_rating(self, ts: float, package: Mapping[str, Any]) -> None:
        await self._publish_retained(self._topic("rating"), payloads.rating_payload(self.site, ts, package))

    async def publish_kpi(
        self, ts: float, period: str, values: Mapping[str, tuple[float | None, str]]
    ) -> bool:
        """Send now or count as unsent (KPIs are not queued: the next period supersedes them)."""
        payload = payloads.kpi_payload(self.site, ts, period, values)
        if await self._publish_now(self._topic("kpi"), payload, retain=False):
            return True
        self.unsent += 1
        return False

    async def _publish_retained(self, topic: str, payload: bytes) -> None:
        self._retained[topic] = payload
        await self._publish_now(topic, payload, retain=True)

    async def _publish_now(self, topic: str, payload: bytes, *, retain: bool) -> bool:
        client = self._client
        if client is None or self._lost.is_set():
            return False
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as exc:
            log.debug("%s: %s not sent: %s", self.where, topic, exc)
            return False
        return True


class _Window:
    """The rows of one `deliver`: which ones the broker confirmed, and a future set once all are
    (or once publishing stopped). At most `limit` are unconfirmed; each ack sends the next row."""

    def __init__(self, router: _AckRouter, items: list[tuple[str, bytes]], qos: int, limit: int) -> None:
        self.router, self.items, self.qos, self.limit = router, items, qos, limit
        self.total = len(items)
        self.acked = bytearray(self.total)
        self.count = 0
        self.sent = 0
        self.refused: tuple[int, str] | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.total == 0:
            self.done.set_result(None)

    def pump(self) -> None:
        """Publish while fewer than `limit` are unconfirmed (runs on the loop thread, also from
        inside paho's PUBACK handling)."""
        router, items, qos = self.router, self.items, self.qos
        publish, tracked = router.paho.publish, router.tracked
        built = qos == 1 and "built_publish" in router.fast_paths
        while self.sent < self.total and self.sent - self.count < self.limit and self.refused is None:
            index = self.sent
            topic, payload = items[index]
            if built:
                try:
                    mid = router.queue_qos1(topic, payload)
                except ValueError as exc:
                    self._refuse(index, str(exc))
                    return
                if mid is None:
                    self._refuse(index, paho_mqtt.error_string(paho_mqtt.MQTT_ERR_NO_CONN))
                    return
                self.sent = index + 1
                tracked[mid] = (self, index)
                continue
            try:
                info = publish(topic, payload, qos)
            except ValueError as exc:  # an invalid topic or payload: stop here, say why
                self._refuse(index, str(exc))
                return
            if info.rc != paho_mqtt.MQTT_ERR_SUCCESS:
                self._refuse(index, paho_mqtt.error_string(info.rc))
                return
            self.sent = index + 1
            if qos == 0 and info.is_published():
                self.ack(index)
            else:
                # No ack can come in between: paho writes and reads on this (the loop) thread only.
                tracked[info.mid] = (self, index)

    def ack(self, index: int) -> None:
        if not self.acked[index]:
            self.acked[index] = 1
            self.count += 1
            if self.count == self.total:
                if not self.done.done():
                    self.done.set_result(None)
            elif self.sent < self.total and not self.done.done():
                self.pump()

    def _refuse(self, index: int, reason: str) -> None:
        self.refused = (index, reason)
        self.total = index
        if not self.done.done():
            self.done.set_result(None)

    def prefix(self) -> int:
        unacked = self.acked.find(0, 0, self.total)
        return self.total if unacked < 0 else unacked


# --- paho fast paths ------------------------------------------------------------------------------
# paho-mqtt 2.x internals, used only where the public API has no equivalent. `_AckRouter.install`
# checks that they exist and reports what it installed in `fast_paths`; the delivery tests assert
# that every one is active, so a library change fails there instead of silently costing CPU.

_PAHO_INTERNALS = (
    "_handle_pubackcomp",
    "_create_socket",
    "_in_packet",
    "_out_messages",
    "_inflight_messages",
    "_out_message_mutex",
    "_packet_write",
    "_out_packet",
    "_sock_send",
    "_msgtime_mutex",
    "_last_msg_out",
    "_last_bytes_received",
    "loop_read",
    "_mid_generate",
    "_packet_queue",
    "_sock",
)
_PUBLISH, _DISCONNECT = 0x30, 0xE0
_paho_clock: Callable[[], float] = paho_mqtt.time_func  # paho's keep-alive clock
_WRITE_CHUNK = 256 * 1024


class _AckRouter:
    """Routes PUBACKs of telemetry to their `_Window`; all others go to aiomqtt's own callback.

    - `on_publish` (public): telemetry mids live in `tracked`, not in aiomqtt's table of Events.
    - `fast_puback`: a PUBACK of a tracked mid is settled here, without paho's per-PUBACK
      ReasonCode and Properties objects, log call and callback (a failure reason, MQTT 5 only, is
      logged; the row counts as sent, as it did through aiomqtt). Anything else takes paho's path.
    - `buffered_read`: paho reads a PUBACK with three recv calls (command byte, length byte, body)
      and then one more that fails with EAGAIN; `_BufferedSocket` serves them from one recv.
    - `joined_write`: paho sends each queued packet with its own send call; queued packets are
      joined into one send of up to 256 KiB instead.
    - `fast_read`: before paho's `loop_read` (which then reads everything else, to EAGAIN), the
      success PUBACKs of tracked mids at the head of the read buffer are settled in one loop,
      without paho's per-packet state, three buffered recv calls and dispatch.
    - `built_publish`: QoS 1 telemetry PUBLISH packets are built by `queue_qos1` and queued on
      paho's socket, without paho's `publish` bookkeeping.
    """

    def __init__(self, client: aiomqtt.Client, protocol: str = "3.1.1") -> None:
        self.paho = client._client
        self._properties = b"\x00" if protocol == "5" else b""  # no PUBLISH properties in 5
        self.tracked: dict[int, tuple[_Window, int]] = {}
        self.fast_paths: set[str] = set()
        self.fast_acks = 0
        self._aiomqtt_on_publish: Callable[..., None] = self.paho.on_publish  # type: ignore[assignment]
        self._paho_handle_pubackcomp: Callable[[Any], MQTTErrorCode] | None = None
        self._paho_packet_write: Callable[[], MQTTErrorCode] | None = None
        self._paho_loop_read: Callable[[int], MQTTErrorCode] | None = None

    def install(self) -> None:
        paho = self.paho
        paho.on_publish = self._on_publish
        self.fast_paths.add("on_publish")
        if not all(hasattr(paho, name) for name in _PAHO_INTERNALS):
            missing = [name for name in _PAHO_INTERNALS if not hasattr(paho, name)]
            log.warning("paho-mqtt %s lacks %s: MQTT fast paths off", paho_package.__version__, missing)
            return
        self._paho_handle_pubackcomp = paho._handle_pubackcomp
        paho._handle_pubackcomp = self._handle_pubackcomp  # type: ignore[method-assign]
        self.fast_paths.add("fast_puback")
        create_socket = paho._create_socket

        def buffered() -> Any:
            return _BufferedSocket(create_socket())

        paho._create_socket = buffered  # type: ignore[method-assign]
        self.fast_paths.add("buffered_read")
        self._paho_packet_write = paho._packet_write
        paho._packet_write = self._packet_write  # type: ignore[method-assign]
        self.fast_paths.add("joined_write")
        self._paho_loop_read = paho.loop_read
        paho.loop_read = self._loop_read  # type: ignore[method-assign]
        self.fast_paths.add("fast_read")
        self.fast_paths.add("built_publish")

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        slot = self.tracked.pop(mid, None)
        if slot is None:
            self._aiomqtt_on_publish(client, userdata, mid, reason, properties)
        else:
            slot[0].ack(slot[1])

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        packet = self.paho._in_packet["packet"]
        if cmd == "PUBACK" and len(packet) >= 2:
            mid = (packet[0] << 8) | packet[1]
            slot = self.tracked.get(mid)
            if slot is not None:
                reason = packet[2] if len(packet) > 2 else 0
                if reason >= 0x80:  # 5 only; aiomqtt ignored it too: the row counts as sent
                    log.warning("mqtt: the broker refused telemetry message %d with reason %#x", mid, reason)
                self._settle(mid, slot)
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        assert self._paho_handle_pubackcomp is not None
        return self._paho_handle_pubackcomp(cmd)

    def _loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        paho = self.paho
        sock = paho._sock
        # Only between packets (paho has no partial one) and only while telemetry is in flight.
        if self.tracked and type(sock) is _BufferedSocket and not paho._in_packet["command"]:
            if sock._pos >= len(sock._buffer):
                sock.fill()
            if self._settle_pubacks(sock):
                with paho._msgtime_mutex:
                    paho._last_bytes_received = _paho_clock()
        assert self._paho_loop_read is not None
        return self._paho_loop_read(max_packets)

    def _settle_pubacks(self, sock: _BufferedSocket) -> bool:
        """Settle complete success PUBACKs of tracked mids from the head of the buffer; stops at
        anything else, which paho reads next."""
        tracked = self.tracked
        buffer, pos = sock._buffer, sock._pos
        end = len(buffer)
        settled = False
        while end - pos >= 4 and buffer[pos] == 0x40:  # PUBACK, no flags
            size = buffer[pos + 1]
            # 3.1.1: 2 bytes (mid); 5 may add a success reason (< 0x80) without properties.
            if not (size == 2 or (size == 3 and end - pos >= 5 and buffer[pos + 4] < 0x80)):
                break
            mid = (buffer[pos + 2] << 8) | buffer[pos + 3]
            slot = tracked.get(mid)
            if slot is None:
                break
            pos += 2 + size
            sock._pos = pos
            settled = True
            self._settle(mid, slot)
        return settled

    def _settle(self, mid: int, slot: tuple[_Window, int]) -> None:
        paho = self.paho
        del self.tracked[mid]
        if mid in paho._out_messages:  # published through paho's publish (else `queue_qos1`)
            with paho._out_message_mutex:
                if paho._out_messages.pop(mid, None) is not None:
                    paho._inflight_messages -= 1
        self.fast_acks += 1
        slot[0].ack(slot[1])

    def queue_qos1(self, topic: str, payload: bytes) -> int | None:
        """A QoS 1 PUBLISH built here and queued on paho's socket: its mid, or None when there is
        no connection. What paho's `publish` adds (an MQTTMessage with a Condition, its message
        table, a log call) serves QoS 2, resending on reconnect and waiting threads, none of
        which a window needs: the PUBACK settles it here, the client is never reconnected."""
        paho = self.paho
        if paho._sock is None:
            return None
        topic_bytes = topic.encode()
        if not topic_bytes or b"+" in topic_bytes or b"#" in topic_bytes or len(topic_bytes) > 65535:
            raise ValueError(f"invalid publish topic {topic!r}")
        for _ in range(65535):
            mid = paho._mid_generate()
            if mid not in self.tracked and mid not in paho._out_messages:
                break
        else:
            raise ValueError("every message id is in flight")
        head = b"".join(
            (len(topic_bytes).to_bytes(2, "big"), topic_bytes, mid.to_bytes(2, "big"), self._properties)
        )
        remaining = len(head) + len(payload)
        if remaining > 268_435_455:
            raise ValueError("payload too large")
        length = bytearray()
        while True:
            byte, remaining = remaining & 0x7F, remaining >> 7
            length.append(byte | 0x80 if remaining else byte)
            if not remaining:
                break
        paho._packet_queue(_PUBLISH, b"".join((b"\x32", length, head, payload)), mid, 1, None)
        return mid

    def _packet_write(self) -> MQTTErrorCode:
        """paho's `_packet_write`, with runs of queued packets sent by one send call.

        paho does something after writing only for a QoS 0 PUBLISH (on_publish) and a DISCONNECT
        (close); those, and a lone packet, take paho's own path. Every other packet is done once
        its bytes are written, so a partial send just leaves the rest of the run queued."""
        paho = self.paho
        queue = paho._out_packet
        while True:
            run: list[Any] = []
            size = 0
            for packet in queue:
                kind = packet["command"] & 0xF0
                if kind == _DISCONNECT or (kind == _PUBLISH and packet["qos"] == 0):
                    break
                run.append(packet)
                size += packet["to_process"]
                if size >= _WRITE_CHUNK:
                    break
            if len(run) < 2:
                assert self._paho_packet_write is not None
                return self._paho_packet_write()
            data = b"".join(p["packet"][p["pos"] :] if p["pos"] else p["packet"] for p in run)
            try:
                sent = paho._sock_send(data)
            except (AttributeError, ValueError):  # as paho: no socket (any more), nothing sent
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            except BlockingIOError:
                return MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError as err:
                log.warning("mqtt %s: failed to send on socket: %s", paho.host, err)
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            if sent <= 0:
                return MQTTErrorCode.MQTT_ERR_SUCCESS  # as paho: try again on the next write event
            for packet in run:
                left = packet["to_process"]
                if sent >= left:
                    queue.popleft()
                    sent -= left
                    continue
                packet["pos"] += sent
                packet["to_process"] -= sent
                break
            with paho._msgtime_mutex:
                paho._last_msg_out = _paho_clock()
            if not queue:
                return MQTTErrorCode.MQTT_ERR_SUCCESS


class _BufferedSocket:
    """paho's socket, read through a 64 KiB buffer: one recv serves many small reads.

    Bytes left in the buffer raise no new readiness event. `pending()` reports them (plus what an
    SSL socket holds decrypted), and the readers of paho's socket call `loop_read` again while it is
    non-zero (aiomqtt's reader callback, and paho's own `loop`, for the same reason with TLS). A
    recv that finds the buffer empty goes to the socket, so EAGAIN / SSLWantRead still end a read.
    """

    __slots__ = ("_buffer", "_inner_pending", "_pos", "_sock", "_stashed", "fills", "most")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._inner_pending: Callable[[], int] | None = getattr(sock, "pending", None)
        self._buffer = b""
        self._pos = 0
        self._stashed: BaseException | bytes | None = None  # what `fill` got instead of data
        self.fills = 0  # recv calls on the socket
        self.most = 0  # the most bytes one of them returned

    def fill(self) -> None:
        """One recv into the empty buffer. End of stream or an error (EAGAIN included) is kept
        and is what the next `recv` returns or raises, so paho meets it exactly as before."""
        try:
            data = self._sock.recv(65536)
        except OSError as exc:
            self._stashed = exc
            return
        self.fills += 1
        self.most = max(self.most, len(data))
        if data:
            self._buffer, self._pos = data, 0
        else:
            self._stashed = data

    def recv(self, bufsize: int) -> bytes:
        buffer, pos = self._buffer, self._pos
        if pos >= len(buffer):
            stashed = self._stashed
            if stashed is not None:
                self._stashed = None
                if isinstance(stashed, bytes):
                    return stashed
                raise stashed
            buffer = self._sock.recv(65536)
            self.fills += 1
            if len(buffer) > self.most:
                self.most = len(buffer)
            if len(buffer) <= bufsize:
                self._buffer, self._pos = b"", 0
                return buffer  # type: ignore[no-any-return]
            self._buffer, pos = buffer, 0
        end = pos + bufsize
        self._pos = end
        return buffer[pos:end]

    def pending(self) -> int:
        buffered = max(len(self._buffer) - self._pos, 0)
        inner = self._inner_pending
        return buffered + inner() if inner is not None else buffered

    def send(self, data: bytes | bytearray) -> int:
        return self._sock.send(data)  # type: ignore[no-any-return]

    def fileno(self) -> int:
        return self._sock.fileno()  # type: ignore[no-any-return]

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def close(self) -> None:
        self._buffer, self._pos = b"", 0
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
