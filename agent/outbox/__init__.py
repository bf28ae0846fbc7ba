"""Durable store-and-forward: the SQLite outbox, its asyncio facade, the intake that accepts polls
into it (pausing on a full disk) and one forwarder per sink."""

from agent.outbox.aio import AsyncOutbox
from agent.outbox.forwarder import Backoff, Delivery, Forwarder, ForwarderStats, Sink
from agent.outbox.intake import Intake, IntakeStats
from agent.outbox.store import Outbox, OutboxRow, OutboxStats, SinkCursorStats

__all__ = [
    "AsyncOutbox",
    "Backoff",
    "Delivery",
    "Forwarder",
    "ForwarderStats",
    "Intake",
    "IntakeStats",
    "Outbox",
    "OutboxRow",
    "OutboxStats",
    "Sink",
    "SinkCursorStats",
]
