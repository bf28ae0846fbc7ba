"""The runtime's live view for the dashboard and /metrics (implements agent.web.source.LiveState)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from agent.runtime.app import Agent
from agent.runtime.control import ControlStatus
from agent.runtime.delivery import Delivery
from agent.runtime.health import HealthSnapshot, OutboxHealth, health_report
from agent.web.source import LatestValue, MetricSample

__all__ = ["LiveView"]


class LiveView:
    """Reads the agent's health and the latest poll per device; copies, never holds references."""

    def __init__(self, agent: Agent, delivery: Delivery, control: ControlStatus | None = None) -> None:
        self.agent = agent
        self.delivery = delivery
        self.control = control

    def control_status(self) -> Mapping[str, Any] | None:
        """The sequencer's mode, each room's band, latest look and last 50 decisions that did
        something (docs/control.md, "The live view"); None when the site has no control or it is off."""
        return self.control.snapshot() if self.control is not None else None

    def device_status(self) -> Sequence[HealthSnapshot]:
        return list(self.agent.health().values())

    def latest_values(self) -> Mapping[str, Sequence[LatestValue]]:
        latest = dict(self.delivery.latest)
        return {
            device: [
                LatestValue(r.point, r.value, r.unit, r.quality, r.reason, result.ts) for r in result.readings
            ]
            for device, result in latest.items()
        }

    def health(self) -> dict[str, Any]:
        """What `GET /health` answers (`agent.runtime.health.health_report`)."""
        outbox = None
        if self.delivery.intake is not None:
            intake = self.delivery.intake.stats()
            outbox = OutboxHealth(
                intake.paused, intake.paused_s, intake.held, intake.dropped, intake.last_error
            )
            if self.delivery.outbox is not None:
                stats = self.delivery.outbox.store.stats()
                lags = {sink.sink: sink.lag_rows for sink in stats.sinks}
                outbox = OutboxHealth(
                    intake.paused, intake.paused_s, intake.held, intake.dropped, intake.last_error,
                    stats.rows, stats.bytes_used, stats.max_bytes, lags,
                )  # fmt: skip
        return health_report(self.delivery.config.site.name, self.device_status(), outbox, time.time())

    def agent_metrics(self) -> Sequence[MetricSample]:
        health = self.device_status()
        samples = [
            MetricSample(
                "energy_agent_polls_total", sum(h.polls for h in health), "Polls attempted", "counter"
            ),
            MetricSample(
                "energy_agent_poll_failures_total", sum(h.failures for h in health), "Failed polls", "counter"
            ),
            MetricSample(
                "energy_agent_missed_slots_total",
                sum(h.missed_slots for h in health),
                "Skipped slots",
                "counter",
            ),
            MetricSample(
                "energy_agent_devices_online", sum(h.state == "online" for h in health), "Devices online"
            ),
            MetricSample(
                "energy_agent_readings_accepted_total", self.delivery.accepted, "Polls accepted", "counter"
            ),
        ]
        for h in health:
            if h.mean_latency_ms is not None:
                samples.append(
                    MetricSample(
                        "energy_agent_latency_ms",
                        h.mean_latency_ms,
                        "Mean poll latency",
                        labels={"device": h.device},
                    )
                )
        if self.delivery.intake is not None:
            intake = self.delivery.intake.stats()
            samples += [
                MetricSample(
                    "energy_agent_outbox_paused", float(intake.paused), "1 while the outbox cannot write"
                ),
                MetricSample("energy_agent_outbox_held_polls", intake.held, "Polls held in memory"),
                MetricSample(
                    "energy_agent_outbox_held_dropped_total",
                    intake.dropped,
                    "Polls dropped from the full memory buffer",
                    "counter",
                ),
            ]
        if self.delivery.outbox is not None:
            stats = self.delivery.outbox.store.stats()
            samples.append(MetricSample("energy_agent_outbox_rows", stats.rows, "Rows in the outbox"))
            samples.append(
                MetricSample("energy_agent_outbox_bytes", stats.bytes_used, "Outbox on disk, with its WAL")
            )
            for sink in stats.sinks:
                labels = {"sink": sink.sink}
                samples.append(
                    MetricSample(
                        "energy_agent_sink_lag_rows", sink.lag_rows, "Rows not yet confirmed", labels=labels
                    )
                )
                samples.append(
                    MetricSample(
                        "energy_agent_sink_dropped_total",
                        sink.dropped,
                        "Rows dropped unsent",
                        "counter",
                        labels,
                    )
                )
        return samples
