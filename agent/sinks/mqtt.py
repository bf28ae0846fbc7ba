"""The MQTT sink: the only module that imports paho-mqtt.

One paho `Client` per connection, used through its public API only and driven by the agent's event
loop through paho's external-loop interface: `on_socket_open` / `on_socket_close` /
`on_socket_register_write` / `on_socket_unregister_write` hand the socket to the loop's reader and
writer callbacks, which call `loop_read` / `loop_write`, and a one-second timer calls `loop_misc`
(keep-alive). paho has no thread of its own, so every callback (`on_connect`, `on_publish`,
`on_disconnect`) runs on the loop thread. Only the blocking `connect` (TCP, TLS handshake, reading
key files) runs in a worker thread.

Telemetry comes from the outbox through a `Forwarder`; a row counts as delivered when paho reports
it published (`on_publish`: PUBACK for QoS 1, PUBCOMP for QoS 2, the socket write for QoS 0). Up to
`max_inflight` publishes are outstanding at once; the cursor moves to the highest row confirmed
without a gap, so a lost connection resends exactly the unconfirmed tail, in order. A connection is
never reconnected in place: after any failure the next `deliver` opens a new one, so nothing paho
kept for a resend is ever sent twice behind the outbox's back.

Status topics are retained and re-published on every (re)connect, so a broker that restarted empty
shows the current state again: agent online (its last will says offline), each device's last
availability, and the last rating. KPIs are not retained and not queued: one that cannot be sent is
counted in `unsent` (the next period's KPIs supersede it).

Library exceptions (OSError from sockets, TLS and key files, ValueError from `publish`, a refused
CONNACK) are translated here into `Delivery.error` strings or `SinkError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import paho.mqtt.client as paho_mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.config.site import MqttSink
from agent.errors import SinkError
from agent.outbox.forwarder import Delivery
from agent.outbox.store import OutboxRow
from agent.sinks import payloads

__all__ = ["MqttPublisher"]

log = logging.getLogger(__name__)

_PROTOCOLS = {"3.1.1": paho_mqtt.MQTTv311, "5": paho_mqtt.MQTTv5}
_SUCCESS = paho_mqtt.MQTT_ERR_SUCCESS
_MISC_INTERVAL_S = 1.0  # how often paho's keep-alive bookkeeping runs (paho's own loop: 1 s)
_CLOSE_WAIT_S = 2.0  # a clean DISCONNECT may take this long before the socket is just shut


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
        self._link: _Link | None = None
        self._connect_lock = asyncio.Lock()
        self._retained: dict[str, bytes] = {}
        self.unsent = 0
        self.connects = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def connected(self) -> bool:
        return self._link is not None and not self._link.lost.is_set()

    @property
    def where(self) -> str:
        return f"mqtt {self.config.host}:{self.config.port}"

    def _topic(self, *parts: str) -> str:
        return payloads.topic(self.config.prefix, self.site, *parts)

    # --- connection -----------------------------------------------------------------------------

    def _new_client(self) -> paho_mqtt.Client:
        cfg = self.config
        client = paho_mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"energy-agent-{self.site}",
            protocol=_PROTOCOLS[cfg.protocol],
        )
        if cfg.username is not None:
            password = cfg.password.get_secret_value() if cfg.password is not None else None
            client.username_pw_set(cfg.username, password)
        client.will_set(
            self._topic("agent", "status"),
            payloads.agent_status_payload(self.site, False, "connection_lost", None),
            qos=1,
            retain=True,
        )
        # Unlimited in paho (its limit re-walks every unconfirmed message on each ack); the window
        # keeps cfg.max_inflight for telemetry instead.
        client.max_inflight_messages_set(0)
        return client

    def _connect_blocking(self, client: paho_mqtt.Client) -> None:
        """TLS files, TCP connect and TLS handshake: blocking, so in a worker thread."""
        cfg = self.config
        if cfg.tls is not None:
            client.tls_set(
                ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
            )
            if cfg.tls.insecure:
                client.tls_insecure_set(True)
        client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)

    async def _ensure_connected(self) -> _Link:
        async with self._connect_lock:
            link = self._link
            if link is not None and not link.lost.is_set():
                return link
            await self._drop_connection()
            link = _Link(self._new_client(), self.where)
            try:
                await link.open(self._connect_blocking, self.publish_timeout_s)
                self._link = link
                error = await self._announce(link)
            except SinkError:
                self._link = None
                await link.close(graceful=False)
                raise
            if error is not None:
                self._link = None
                await link.close(graceful=False)
                raise SinkError(f"{self.where}: cannot announce the agent's status: {error}")
            self.connects += 1
            log.info("%s: connected", self.where)
            return link

    async def _announce(self, link: _Link) -> str | None:
        """Retained state after every connect: the broker may have restarted with nothing."""
        online = payloads.agent_status_payload(self.site, True, None, self._clock())
        messages = {self._topic("agent", "status"): online, **self._retained}
        window = _Window(link, list(messages.items()), qos=1, limit=len(messages), retain=True)
        return await self._run_window(link, window)

    async def _drop_connection(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close(graceful=True)

    async def close(self, reason: str = "shutdown") -> None:
        """Say goodbye (retained offline with a reason) and disconnect cleanly."""
        link = self._link
        if link is not None and not link.lost.is_set():
            offline = payloads.agent_status_payload(self.site, False, reason, self._clock())
            window = _Window(link, [(self._topic("agent", "status"), offline)], qos=1, limit=1, retain=True)
            await self._run_window(link, window)
        await self._drop_connection()

    # --- telemetry ------------------------------------------------------------------------------

    async def deliver(self, rows: Sequence[OutboxRow]) -> Delivery:
        try:
            link = await self._ensure_connected()
        except SinkError as exc:
            return Delivery(acked_through=None, error=str(exc))
        prefix, site = self.config.prefix, self.site
        build = payloads.telemetry_payload
        items = [
            _control_item(self._topic("control"), row)
            if row.result.device_kind == payloads.CONTROL_KIND
            else (f"{prefix}/{site}/{row.result.device}/telemetry", build(row.result, row.boot))
            for row in rows
        ]
        window = _Window(link, items, self.config.qos, self.config.max_inflight)
        error = await self._run_window(link, window)
        confirmed = window.prefix()
        acked_through = rows[confirmed - 1].id if confirmed else None
        if error is not None:
            await self._drop_connection()
        return Delivery(acked_through=acked_through, error=error)

    async def _run_window(self, link: _Link, window: _Window) -> str | None:
        """Publish the window (at most `limit` unconfirmed, the next row going out as one is
        confirmed, so the broker sees them in order) and wait for the confirmations; returns why
        it stopped early, or None when every message was confirmed."""
        link.start(window)
        error = await self._await_acks(link, window)
        if window.refused is not None:
            # Rows after the refused one were never sent; what was confirmed before it counts.
            return f"{self.where}: publish failed: {window.refused}"
        return error

    async def _await_acks(self, link: _Link, window: _Window) -> str | None:
        """Until every ack, the connection is lost (the link ends the window), or no ack came for
        `publish_timeout_s`."""
        try:
            while not window.done.done():
                seen = window.count
                await asyncio.wait((window.done,), timeout=self.publish_timeout_s)
                if window.count == seen and not window.done.done():
                    return (
                        f"{self.where}: publish failed: no acknowledgement for {self.publish_timeout_s:g} s"
                    )
        finally:
            link.forget(window)
        if window.count < window.total and window.refused is None:
            unconfirmed = window.total - window.prefix()
            return f"{self.where}: connection lost with {unconfirmed} messages unconfirmed"
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
        link = self._link
        if link is None or link.lost.is_set():
            return False
        window = _Window(link, [(topic, payload)], qos=1, limit=1, retain=retain)
        error = await self._run_window(link, window)
        if error is not None:
            log.debug("%s: %s not sent: %s", self.where, topic, error)
            return False
        return True


def _control_item(topic: str, row: OutboxRow) -> tuple[str, bytes]:
    """A sequencer record: its message as built when the cycle ran (docs/control.md)."""
    reading = row.result.readings.get(payloads.CONTROL_PAYLOAD)
    text = reading.value if reading is not None and isinstance(reading.value, str) else "{}"
    return topic, text.encode()


class _Window:
    """Messages published together: which ones paho reported published, and a future set once
    all are (or once publishing stopped). At most `limit` are unconfirmed at a time."""

    def __init__(
        self, link: _Link, items: list[tuple[str, bytes]], qos: int, limit: int, *, retain: bool = False
    ) -> None:
        self.link, self.items, self.qos, self.limit, self.retain = link, items, qos, limit, retain
        self.total = len(items)
        self.acked = bytearray(self.total)
        self.count = 0
        self.sent = 0
        self.refused: str | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.total == 0:
            self.done.set_result(None)

    def pump(self) -> None:
        """Publish while fewer than `limit` are unconfirmed. paho only queues the packets here;
        the loop's writer callback sends them, so no ack can come before the mid is tracked."""
        items, qos, retain, tracked = self.items, self.qos, self.retain, self.link.tracked
        publish = self.link.client.publish
        while self.sent < self.total and self.sent - self.count < self.limit and self.refused is None:
            index = self.sent
            topic, payload = items[index]
            try:
                info = publish(topic, payload, qos, retain)
            except ValueError as exc:  # an invalid topic or payload: stop here, say why
                self._refuse(index, f"invalid publish topic {topic!r} or payload: {exc}")
                return
            if info.rc != _SUCCESS:
                self._refuse(index, paho_mqtt.error_string(info.rc))
                return
            self.sent = index + 1
            tracked[info.mid] = (self, index)

    def ack(self, index: int) -> None:
        if not self.acked[index]:
            self.acked[index] = 1
            self.count += 1
            if self.count == self.total and not self.done.done():
                self.done.set_result(None)

    def _refuse(self, index: int, reason: str) -> None:
        self.refused = reason
        self.total = index
        if not self.done.done():
            self.done.set_result(None)

    def prefix(self) -> int:
        unacked = self.acked.find(0, 0, self.total)
        return self.total if unacked < 0 else unacked


class _Link:
    """One paho client and its connection, driven by the running event loop (paho's public
    external-loop interface). Windows in flight are pumped after every read and write."""

    def __init__(self, client: paho_mqtt.Client, where: str) -> None:
        self.client = client
        self.where = where
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.tracked: dict[int, tuple[_Window, int]] = {}
        self.windows: list[_Window] = []
        self.connack: asyncio.Future[str | None] = self.loop.create_future()  # why it was refused
        self.lost = asyncio.Event()
        self.socket_closed = asyncio.Event()
        self._fd = -1
        self._writer = False  # the loop watches the socket for writability
        self._closed = False
        self._misc: asyncio.TimerHandle | None = None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write

    # --- opening and closing ----------------------------------------------------------------------

    async def open(self, connect: Callable[[paho_mqtt.Client], None], timeout_s: float) -> None:
        """Connect (worker thread) and wait for a successful CONNACK; SinkError otherwise."""
        try:
            await asyncio.wait_for(self.loop.run_in_executor(None, connect, self.client), timeout_s)
        except (OSError, ValueError) as exc:  # socket, TLS handshake, key files; a bad host name
            raise SinkError(f"{self.where}: cannot connect: {exc}") from exc
        except TimeoutError as exc:
            raise SinkError(f"{self.where}: cannot connect: no connection in {timeout_s:g} s") from exc
        try:
            refused = await asyncio.wait_for(asyncio.shield(self.connack), timeout_s)
        except TimeoutError as exc:
            raise SinkError(f"{self.where}: cannot connect: no CONNACK in {timeout_s:g} s") from exc
        if refused is not None:
            raise SinkError(f"{self.where}: cannot connect: {refused}")

    async def close(self, *, graceful: bool) -> None:
        """Disconnect: a clean DISCONNECT (the broker drops the last will) when `graceful` and it
        goes out within a moment, otherwise the socket is shut and paho sees the end of stream."""
        self._closed = True
        client = self.client
        if graceful and client.socket() is not None:
            client.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.socket_closed.wait(), _CLOSE_WAIT_S)
        if _shut(client.socket()):
            with contextlib.suppress(OSError):
                client.loop_read()  # paho reads the end of stream: closes its socket, on_disconnect
        self._stop_misc()
        self.lost.set()
        self._fail_windows()

    # --- windows ----------------------------------------------------------------------------------

    def start(self, window: _Window) -> None:
        if self.lost.is_set():
            window.refused = "not connected"
            window.total = 0
            if not window.done.done():
                window.done.set_result(None)
            return
        self.windows.append(window)
        window.pump()

    def forget(self, window: _Window) -> None:
        with contextlib.suppress(ValueError):
            self.windows.remove(window)
        if window.sent > window.count and self.tracked:
            for mid in [mid for mid, slot in self.tracked.items() if slot[0] is window]:
                del self.tracked[mid]

    def _pump(self) -> None:
        for window in self.windows:
            if window.sent < window.total and window.refused is None:
                window.pump()

    def _fail_windows(self) -> None:
        for window in self.windows:
            if not window.done.done():
                window.done.set_result(None)  # with fewer acks than rows: the caller says so

    # --- paho callbacks (loop thread) -------------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.connack.done():
            return
        self.connack.set_result(str(reason) if reason.is_failure else None)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not self.connack.done():
            self.connack.set_result(f"disconnected ({reason})")
        self.lost.set()
        self._fail_windows()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        slot = self.tracked.pop(mid, None)
        if slot is None:
            return
        if reason.is_failure:  # 5 only; the row counts as sent, as it always did
            log.warning("%s: the broker refused message %d with reason %s", self.where, mid, reason)
        slot[0].ack(slot[1])

    # --- socket callbacks: paho calls the first two from the connecting worker thread too --------

    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        self._on_loop(self._watch, sock.fileno())

    def _on_socket_register_write(self, client: Any, userdata: Any, sock: Any) -> None:
        # paho has packets to send: write them once this callback's caller is done (a whole
        # window's worth, usually), and wait for writability only if the socket is full.
        if threading.get_ident() == self._loop_thread:
            self.loop.call_soon(self._flush)
        else:
            self.loop.call_soon_threadsafe(self._flush)

    def _on_socket_unregister_write(self, client: Any, userdata: Any, sock: Any) -> None:
        self._on_loop(self._unwatch_write)

    def _on_socket_close(self, client: Any, userdata: Any, sock: Any) -> None:
        self._on_loop(self._unwatch)

    def _on_loop(self, function: Callable[..., object], *args: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            function(*args)
        else:
            self.loop.call_soon_threadsafe(function, *args)

    def _watch(self, fd: int) -> None:
        self._fd = fd
        self.loop.add_reader(fd, self._readable)
        if self._closed:  # a connect that finished after `open` gave up on it: end it
            _shut(self.client.socket())
            return
        self._misc = self.loop.call_later(_MISC_INTERVAL_S, self._keepalive)

    def _unwatch_write(self) -> None:
        if self._writer and self._fd >= 0:
            self.loop.remove_writer(self._fd)
        self._writer = False

    def _unwatch(self) -> None:
        if self._fd >= 0:
            self.loop.remove_reader(self._fd)
            self.loop.remove_writer(self._fd)
            self._fd = -1
            self._writer = False
        self._stop_misc()
        self.socket_closed.set()
        self.lost.set()
        self._fail_windows()

    def _stop_misc(self) -> None:
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None

    # --- I/O -------------------------------------------------------------------------------------

    def _readable(self) -> None:
        client = self.client
        try:
            client.loop_read()
            # An SSL socket may hold decrypted bytes that raise no new readiness event.
            sock = client.socket()
            pending = getattr(sock, "pending", None)
            while pending is not None and pending() > 0 and client.socket() is sock:
                client.loop_read()
        except OSError as exc:
            self._broken(exc)
            return
        if self.windows:
            self._pump()

    def _flush(self) -> None:
        if self._fd < 0 or self._writer:
            return
        self._writable()
        if self._fd >= 0 and not self._writer and self.client.want_write():  # the socket is full
            self._writer = True
            self.loop.add_writer(self._fd, self._writable)

    def _writable(self) -> None:
        try:
            self.client.loop_write()
        except OSError as exc:
            self._broken(exc)
            return
        if self.windows:
            self._pump()  # QoS 0 is confirmed by the write

    def _keepalive(self) -> None:
        self._misc = None
        if self.client.loop_misc() == _SUCCESS and self._fd >= 0:
            self._misc = self.loop.call_later(_MISC_INTERVAL_S, self._keepalive)

    def _broken(self, exc: OSError) -> None:
        log.debug("%s: socket error: %s", self.where, exc)
        _shut(self.client.socket())
        self.lost.set()
        self._fail_windows()


def _shut(sock: object) -> bool:
    """Shut a socket both ways (paho then reads the end of stream and closes it); False if none."""
    if not isinstance(sock, socket.socket):  # ssl.SSLSocket is one too
        return False
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    return True
