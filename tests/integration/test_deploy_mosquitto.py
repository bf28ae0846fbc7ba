"""The shipped broker config (deploy/mosquitto/) runs a real Mosquitto with TLS and passwords.

The test copy of mosquitto.conf changes only what must differ on a test machine: the image paths
(/mosquitto/...) point into a temporary directory, the listener binds a free loopback port, and a
root test run keeps user root (Mosquitto drops to user `mosquitto`, which cannot enter pytest's
0700 temporary directories). Certificates come from the shipped make-certs.sh, passwords from
mosquitto_passwd: the same steps docs/install.md tells an integrator to run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "mosquitto"
MOSQUITTO = "/usr/sbin/mosquitto"
AGENT_USER, AGENT_PASSWORD = "energy-agent", "s3cret-agent-pw"
READER_USER, READER_PASSWORD = "reader", "reader-pw"
WAIT_S = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_for_test(shipped: str, workdir: Path, port: int) -> str:
    """The shipped config with only paths, the bind address and (as root) the user changed."""
    text = shipped
    for image_dir in ("config", "certs", "data"):
        text = text.replace(f"/mosquitto/{image_dir}/", f"{workdir / image_dir}/")
    text, listeners = re.subn(r"(?m)^listener 8883$", f"listener {port} 127.0.0.1", text)
    assert listeners == 1, "the shipped config must have exactly one 'listener 8883' line"
    if os.geteuid() == 0:
        text += "\nuser root\n"
    return text


def _directives(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass
class Broker:
    workdir: Path
    port: int
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ca(self) -> Path:
        return self.workdir / "certs" / "ca.crt"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=out, stderr=out)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"mosquitto exited: {self.log.read_text()[-2000:]}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"mosquitto not listening: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=WAIT_S)
        self.proc = None


def make_certs(out: Path, *names: str) -> Path:
    subprocess.run(["bash", str(DEPLOY / "make-certs.sh"), str(out), *names], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA and server certificate for the module (RSA key generation takes about a second)."""
    return make_certs(tmp_path_factory.mktemp("certs"), "localhost", "127.0.0.1")


@pytest.fixture
def broker(tmp_path: Path, certs: Path) -> Iterator[Broker]:
    shutil.copytree(certs, tmp_path / "certs")
    for sub in ("config", "data"):
        (tmp_path / sub).mkdir()
    passwd = tmp_path / "config" / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), AGENT_USER, AGENT_PASSWORD], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), READER_USER, READER_PASSWORD], check=True)
    shutil.copy(DEPLOY / "acl", tmp_path / "config" / "acl")
    port = _free_port()
    shipped = (DEPLOY / "mosquitto.conf").read_text()
    config = tmp_path / "config" / "mosquitto.conf"
    config.write_text(config_for_test(shipped, tmp_path, port))
    assert set(_directives(config.read_text())) - set(_directives(shipped)) <= {"user"}
    broker = Broker(tmp_path, port, config, tmp_path / "mosquitto.log")
    broker.start()
    yield broker
    broker.stop()


@dataclass
class Session:
    """A paho client whose callbacks land in events the test can wait on."""

    client: mqtt.Client
    connack: ReasonCode | None = None
    connected: threading.Event = field(default_factory=threading.Event)
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    acks: dict[int, ReasonCode] = field(default_factory=dict)
    acked: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(broker: Broker, user: str, password: str, *, ca: Path | None = None, v5: bool = False) -> Session:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"test-{user}-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    session = Session(client)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Properties | None) -> None:
        session.connack = reason
        session.connected.set()

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        session.messages.append(message)
        session.received.set()

    def on_subscribe(*_args: Any) -> None:
        session.subscribed.set()

    def on_publish(_c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Properties | None) -> None:
        session.acks[mid] = reason
        session.acked.set()

    client.on_connect, client.on_message = on_connect, on_message
    client.on_subscribe, client.on_publish = on_subscribe, on_publish
    client.tls_set(ca_certs=str(broker.ca))
    client.username_pw_set(user, password)
    client.connect("localhost", broker.port, keepalive=30)
    client.loop_start()
    assert session.connected.wait(WAIT_S), "no CONNACK"
    return session


def test_agent_connects_over_tls_with_its_password_and_a_reader_receives(broker: Broker) -> None:
    reader = connect(broker, READER_USER, READER_PASSWORD)
    agent = connect(broker, AGENT_USER, AGENT_PASSWORD)
    try:
        for session in (reader, agent):
            assert session.connack is not None
            assert not session.connack.is_failure
        reader.client.subscribe("energy/#", qos=1)
        assert reader.subscribed.wait(WAIT_S)
        agent.client.publish("energy/plant/meter-1/telemetry", b'{"seq":1}', qos=1).wait_for_publish(WAIT_S)
        assert reader.received.wait(WAIT_S)
        assert reader.messages[0].topic == "energy/plant/meter-1/telemetry"
        assert reader.messages[0].payload == b'{"seq":1}'
    finally:
        agent.close()
        reader.close()


def test_a_wrong_password_is_refused(broker: Broker) -> None:
    session = connect(broker, AGENT_USER, "not-the-password")
    try:
        assert session.connack is not None
        assert session.connack.is_failure
        assert "authori" in str(session.connack).lower()  # CONNACK 5 / 0x87 "Not authorized"
    finally:
        session.close()


def test_an_unknown_user_and_an_anonymous_client_are_refused(broker: Broker) -> None:
    for user, password in (("intruder", AGENT_PASSWORD), ("", "")):
        session = connect(broker, user, password)
        try:
            assert session.connack is not None
            assert session.connack.is_failure, user
        finally:
            session.close()


def test_plain_tcp_gets_no_mqtt_session(broker: Broker) -> None:
    """The only listener speaks TLS: an MQTT CONNECT in clear text gets no CONNACK."""
    connect_packet = bytes.fromhex("101000044d5154540402001e0004") + b"test"
    with socket.create_connection(("127.0.0.1", broker.port), timeout=WAIT_S) as sock:
        sock.sendall(connect_packet)
        try:
            reply = sock.recv(4)
        except (ConnectionResetError, TimeoutError):
            reply = b""
    assert not reply.startswith(b"\x20"), "a CONNACK came back over plain TCP"


def test_a_client_that_does_not_trust_the_broker_ca_fails_the_handshake(
    broker: Broker, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca"
    make_certs(other, "localhost")
    context = ssl.create_default_context(cafile=str(other / "ca.crt"))
    with (
        socket.create_connection(("127.0.0.1", broker.port), timeout=WAIT_S) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="localhost")


def test_the_acl_refuses_a_reader_publishing_under_the_prefix(broker: Broker) -> None:
    """MQTT 5 makes the refusal visible: PUBACK 0x87 instead of a silent drop."""
    reader = connect(broker, READER_USER, READER_PASSWORD, v5=True)
    try:
        info = reader.client.publish("energy/plant/meter-1/telemetry", b"forged", qos=1)
        assert reader.acked.wait(WAIT_S)
        assert reader.acks[info.mid].value == 0x87
    finally:
        reader.close()


def test_retained_status_survives_a_broker_restart(broker: Broker) -> None:
    agent = connect(broker, AGENT_USER, AGENT_PASSWORD)
    agent.client.publish(
        "energy/plant/agent/status", b'{"state":"online"}', qos=1, retain=True
    ).wait_for_publish(WAIT_S)
    agent.close()
    broker.stop()  # SIGTERM: Mosquitto writes its persistence file on a clean exit
    assert (broker.workdir / "data" / "mosquitto.db").exists()
    broker.start()
    reader = connect(broker, READER_USER, READER_PASSWORD)
    try:
        reader.client.subscribe("energy/plant/agent/status", qos=1)
        assert reader.received.wait(WAIT_S), "the retained status was lost on restart"
        assert reader.messages[0].retain
        assert reader.messages[0].payload == b'{"state":"online"}'
    finally:
        reader.close()
