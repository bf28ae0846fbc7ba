"""The one exception tree of the agent.

    AgentError
    ├── ConfigError          a config or profile file is wrong (carries every issue found)
    ├── DeviceError          talking to a Modbus device failed
    │   ├── Unreachable      no connection (refused, no route, serial port missing)
    │   ├── DeviceTimeout    the device did not answer in time
    │   ├── ExceptionResponse the device answered with a Modbus exception (code)
    │   └── ProtocolError    the bytes that came back are not a valid answer (reason): the
    │                        connection is out of step and is dropped
    ├── DecodeError          registers could not be turned into a value
    └── SinkError            a sink (MQTT, InfluxDB, store) refused or failed
        └── StoreFull        a local SQLite store cannot write now (disk full): retry later

Library exceptions (pymodbus, paho-mqtt, influxdb-client) are translated into these at the one module
that imports each library; nothing else in the agent catches library exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AgentError",
    "ConfigError",
    "ConfigIssue",
    "DecodeError",
    "DeviceError",
    "DeviceTimeout",
    "ExceptionResponse",
    "ProtocolError",
    "SinkError",
    "StoreFull",
    "Unreachable",
]


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file: where it is and what is wrong."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ConfigError(AgentError):
    """A config or profile is invalid. `issues` holds every problem found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class DeviceError(AgentError):
    """A Modbus request to a device failed."""


class Unreachable(DeviceError):
    """The device (or its gateway / serial port) cannot be reached."""


class DeviceTimeout(DeviceError):
    """The device did not answer within the bus timeout."""


class ExceptionResponse(DeviceError):
    """The device answered with a Modbus exception response."""

    NAMES: ClassVar[dict[int, str]] = {
        1: "ILLEGAL FUNCTION",
        2: "ILLEGAL DATA ADDRESS",
        3: "ILLEGAL DATA VALUE",
        4: "SERVER DEVICE FAILURE",
        5: "ACKNOWLEDGE",
        6: "SERVER DEVICE BUSY",
        10: "GATEWAY PATH UNAVAILABLE",
        11: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
    }

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        name = self.NAMES.get(code, "UNKNOWN")
        super().__init__(f"Modbus exception {code} ({name}){': ' + detail if detail else ''}")


class ProtocolError(DeviceError):
    """What came back is not a valid answer to the request: wrong protocol id, unit id, transaction
    id, function code, byte count or length, or a frame cut short. Nothing after it on that byte
    stream can be trusted, so the connection is dropped and the next request opens a new one.

    `reason` is short and machine-readable ("unit_id", "length", ...); the message says the rest."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class DecodeError(AgentError):
    """Registers could not be decoded (wrong length, bad string bytes)."""


class SinkError(AgentError):
    """A sink failed to accept data."""


class StoreFull(SinkError):
    """A local store (outbox, history) cannot write because its disk is full; nothing it had
    committed is lost, and the same write may succeed once space returns."""
