"""The site config: one YAML file describing a factory's buses, devices and sinks.

Every model forbids unknown keys, so a typo is an error, not a silently ignored setting. Secrets
(passwords, tokens) are `SecretStr`: they come from `${ENV}` in the file and never print in logs.
Cross-field rules that need the whole file (references between devices, buses and profiles) live in
`agent.config.checks`, so every problem can be reported with its own line.
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from agent.config.analytics import AnalyticsConfig
from agent.config.control import ControlConfig
from agent.config.strict import StrictModel as _Strict  # one base for every config model

__all__ = [
    "WEB_TOKEN_ENV",
    "Area",
    "Bus",
    "Carrier",
    "Device",
    "InfluxSink",
    "LocalStoreSink",
    "MqttSink",
    "MqttTls",
    "RtuOverTcpBus",
    "SerialBus",
    "Sinks",
    "Site",
    "SiteConfig",
    "TcpBus",
    "WebConfig",
    "is_loopback",
]

NAME = r"^[a-z0-9][a-z0-9_-]*$"
WEB_TOKEN_ENV = "ENERGY_AGENT_WEB_TOKEN"
"""The environment variable `run` takes the dashboard token from when `web.token` is not set."""


def is_loopback(host: str) -> bool:
    """True for a bind address that only this machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Area(_Strict):
    name: str = Field(pattern=NAME, max_length=64, description="Area id, e.g. 'compressor-room'.")
    display_name: str = Field(default="", description="Name shown on the dashboard (any language).")
    lines: tuple[str, ...] = Field(default=(), description="Production lines in this area.")
    floor_area_m2: float | None = Field(default=None, gt=0, description="For energy per m2.")


class Site(_Strict):
    name: str = Field(pattern=NAME, max_length=64, description="Site id, used in MQTT topics and tags.")
    display_name: str = Field(default="", description="Name shown on the dashboard and in reports.")
    timezone: str = Field(default="Asia/Shanghai", description="IANA time zone for days, shifts, tariffs.")
    areas: tuple[Area, ...] = Field(default=(), description="Areas / workshops of the plant.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)") from None
        return value


class _BusBase(_Strict):
    name: str = Field(pattern=NAME, max_length=64, description="Bus id that devices refer to.")
    timeout_s: float = Field(default=1.0, gt=0, le=60, description="Response timeout per request.")
    retries: int = Field(default=1, ge=0, le=5, description="Retries of a failed request before it counts.")
    inter_frame_delay_ms: float = Field(
        default=0.0, ge=0, le=1000, description="Silence kept between two requests on this line."
    )


class TcpBus(_BusBase):
    """Modbus TCP: devices (or a TCP gateway) reached by host and port."""

    type: Literal["tcp"]
    host: str = Field(min_length=1, description="Host name or IP address.")
    port: int = Field(default=502, ge=1, le=65535, description="TCP port (502 is the Modbus default).")
    max_connections: int = Field(
        default=4, ge=1, le=64, description="Sockets opened at most (many gateways allow only a few)."
    )


class RtuOverTcpBus(_BusBase):
    """RTU frames through a serial-to-Ethernet converter: one RS-485 line behind one TCP socket."""

    type: Literal["rtu_over_tcp"]
    host: str = Field(min_length=1, description="Host name or IP address of the converter.")
    port: int = Field(default=502, ge=1, le=65535, description="TCP port (502 is the Modbus default).")
    line_baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] | None = Field(
        default=None,
        description="Baud rate of the RS-485 line behind the converter, when known: reads are planned "
        "for its wire time, and validate and run report how busy the line is.",
    )


class SerialBus(_BusBase):
    """Modbus RTU on a local serial port (RS-485)."""

    type: Literal["rtu"]
    port: str = Field(min_length=1, description="Serial device, e.g. /dev/ttyUSB0 or /dev/ttyS1.")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = Field(
        default=9600, description="Line speed; every device on the line must use the same."
    )
    parity: Literal["N", "E", "O"] = Field(default="N", description="None, even or odd parity.")
    stopbits: Literal[1, 2] = Field(default=1, description="Stop bits (2 is common with no parity).")
    bytesize: Literal[7, 8] = Field(default=8, description="Data bits.")


Bus = Annotated[TcpBus | RtuOverTcpBus | SerialBus, Field(discriminator="type")]


class Carrier(StrEnum):
    """Energy carrier a meter measures (GB/T 2589 conversion factors apply per carrier)."""

    ELECTRICITY = "electricity"
    NATURAL_GAS = "natural_gas"
    STEAM = "steam"
    HEAT = "heat"
    WATER = "water"
    COMPRESSED_AIR = "compressed_air"
    DIESEL = "diesel"
    NONE = "none"


class Device(_Strict):
    name: str = Field(pattern=NAME, max_length=64, description="Device id, unique in the site.")
    bus: str = Field(description="Name of the bus the device is on.")
    unit_id: int = Field(
        ge=0, le=255, description="Modbus unit id: 1..247 (0 and 255 only for devices on a tcp bus)."
    )
    profile: str = Field(description="Profile id, e.g. eastron/sdm630.")
    interval_s: float = Field(
        default=15.0, ge=0.1, le=86400, description="Poll interval (wall-clock aligned)."
    )
    area: str | None = Field(default=None, description="Area the device belongs to.")
    parent: str | None = Field(default=None, description="Upstream meter in the meter tree.")
    carrier: Carrier = Field(default=Carrier.ELECTRICITY, description="What the device meters.")
    rated_power_kw: float | None = Field(
        default=None, gt=0, description="Rated power: bounds plausible energy increments (glitch check)."
    )
    points: tuple[str, ...] | None = Field(default=None, description="Subset of profile points to poll.")
    enabled: bool = Field(
        default=True, description="False keeps the device in the file but does not poll it."
    )
    writes_enabled: bool = Field(default=False, description="Allow Modbus writes to this device.")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra tags for sinks.")


class MqttTls(_Strict):
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the broker.")
    cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(default=None, description="Client key (mutual TLS).")
    insecure: bool = Field(default=False, description="Skip host name check (never in production).")


class MqttSink(_Strict):
    enabled: bool = Field(default=True, description="False keeps the settings but sends nothing.")
    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or IP address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    username: str | None = Field(default=None, description="Login name, if the broker requires one.")
    password: SecretStr | None = Field(default=None, description="Use ${ENV_VAR}; never commit it.")
    client_id: str | None = Field(default=None, description="Default: energy-agent-<site>.")
    prefix: str = Field(default="energy", pattern=r"^[A-Za-z0-9_/-]+$", description="Topic prefix.")
    qos: Literal[0, 1, 2] = Field(default=1, description="1: delivered at least once (PUBACK), the default.")
    protocol: Literal["3.1.1", "5"] = Field(default="3.1.1", description="MQTT protocol version.")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="Keep-alive interval in seconds.")
    tls: MqttTls | None = Field(default=None, description="TLS settings; absent means plain TCP.")
    max_inflight: int = Field(default=100, ge=1, le=65535, description="Unacknowledged messages at most.")


class InfluxSink(_Strict):
    enabled: bool = Field(default=True, description="False keeps the settings but sends nothing.")
    url: str = Field(default="http://127.0.0.1:8086", pattern=r"^https?://", description="Server base URL.")
    api: Literal["v2", "v1"] = Field(
        default="v2", description="v2 write API (2.x, 3.x, VictoriaMetrics) or 1.x."
    )
    token: SecretStr | None = Field(default=None, description="Use ${ENV_VAR}; never commit it.")
    org: str = Field(default="energy", description="v2: organisation.")
    bucket: str = Field(default="energy", description="v2: bucket (database/retention policy on 1.x).")
    database: str | None = Field(default=None, description="v1 only: database name.")
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    gzip: bool = Field(default=True, description="Compress write requests.")
    timeout_s: float = Field(default=10.0, gt=0, le=300)


class LocalStoreSink(_Strict):
    path: Path = Field(default=Path("var/energy-agent"), description="Directory for the outbox and history.")
    max_bytes: int = Field(default=2 * 1024**3, ge=1024**2, description="Outbox size bound.")
    max_age_days: float = Field(default=30, gt=0, description="Outbox age bound.")


class Sinks(_Strict):
    mqtt: MqttSink | None = Field(default=None, description="MQTT broker; absent: no MQTT.")
    influxdb: InfluxSink | None = Field(default=None, description="InfluxDB (or compatible); absent: none.")
    local_store: LocalStoreSink = Field(default_factory=LocalStoreSink, description="Outbox and history.")


class WebConfig(_Strict):
    """The agent's own dashboard and JSON API."""

    host: str = Field(
        default="127.0.0.1", description="Bind address; anything but loopback requires `token`."
    )
    port: int = Field(default=8080, ge=1, le=65535)
    token: SecretStr | None = Field(
        default=None, description="Access token (use ${ENV_VAR}); required when not bound to loopback."
    )


class SiteConfig(_Strict):
    """The whole file."""

    site: Site = Field(description="Name, time zone and areas of the plant.")
    profiles_dirs: tuple[Path, ...] = Field(
        default=(), description="Extra profile directories (relative to this file), searched first."
    )
    buses: tuple[Bus, ...] = Field(default=(), description="Physical lines / gateways.")
    devices: tuple[Device, ...] = Field(default=(), description="Polled devices.")
    sinks: Sinks = Field(default_factory=Sinks, description="Where readings go: MQTT, InfluxDB, local store.")
    web: WebConfig | None = Field(default=None, description="Serve the dashboard from `energy-agent run`.")
    analytics: AnalyticsConfig = Field(
        default_factory=AnalyticsConfig,
        description="Factors, tariff, shifts, production, baseline; time zone defaults to the site's.",
    )
    control: ControlConfig = Field(
        default_factory=ControlConfig,
        description="Compressor-room sequencing (docs/control.md): off unless set, writes where enabled.",
    )

    @model_validator(mode="before")
    @classmethod
    def _analytics_follow_the_site_zone(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        site, analytics = data.get("site"), data.get("analytics")
        if (
            isinstance(site, dict)
            and "timezone" in site
            and (analytics is None or isinstance(analytics, dict))
        ):
            analytics = dict(analytics or {})
            analytics.setdefault("timezone", site["timezone"])
            return {**data, "analytics": analytics}
        return data
