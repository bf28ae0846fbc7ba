"""Durable store-and-forward: the SQLite outbox, its asyncio facade and one forwarder per sink."""

from agent.outbox.aio import AsyncOutbox
from agent.outbox.forwarder import Backoff, Delivery, Forwarder, ForwarderStats, Sink
from agent.outbox.store import Outbox, OutboxRow, OutboxStats, SinkCursorStats

__all__ = [
    "AsyncOutbox",
    "Backoff",
    "Delivery",
    "Forwarder",
    "ForwarderStats",
    "Outbox",
    "OutboxRow",
    "OutboxStats",
    "Sink",
    "SinkCursorStats",
]
