"""A decision as the message on `{prefix}/{site}/control` (schemas/mqtt/control.schema.json).

Every command is in it with its reason and whether it was written; deferred and withdrawn commands
and the alarms too, so a reader of the topic sees everything the sequencer did and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from agent.control.model import Command, Decision
from agent.sinks.payloads import iso_utc

__all__ = ["SCHEMA_CONTROL", "control_payload"]

SCHEMA_CONTROL = "energy-agent/control/1"


def _command(command: Command) -> dict[str, Any]:
    return {
        "device": command.device,
        "point": command.point,
        "value": command.value,
        "reason": command.reason,
        "safety": command.safety,
    }


def control_payload(site: str, decision: Decision, failed: Iterable[Command] = ()) -> bytes:
    """The decision of one room in one cycle; `failed`: writes the device refused or never answered."""
    written = set(decision.writes) - set(failed)
    document = {
        "schema": SCHEMA_CONTROL,
        "site": site,
        "room": decision.room,
        "mode": decision.mode,
        "ts": decision.t,
        "time": iso_utc(decision.t),
        "pressure_bar": decision.pressure_bar,
        "demand_m3min": decision.demand_m3min,
        "combination": list(decision.combination),
        "commands": [_command(c) | {"written": c in written} for c in decision.commands],
        "deferred": [_command(c) for c in decision.deferred],
        "withdrawn": [_command(c) for c in decision.withdrawn],
        "alarms": [{"code": a.code, "message": a.message, "device": a.device} for a in decision.alarms],
    }
    return json.dumps(document, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()
