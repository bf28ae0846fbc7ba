"""A background task that fails does not stop the site: the rating computation raising inside a
running agent (real Modbus simulator, real Mosquitto) leaves polling and delivery running, and the
error is logged once, not once per retry."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml

from agent.config.loader import load_config
from agent.runtime.app import Agent
from agent.runtime.delivery import Delivery
from agent.runtime.site import Background, serve_site
from agent.runtime.supervise import Backoff
from tests.integration.conftest import StartFactory
from tests.integration.services import Mosquitto, mosquitto
from tests.scenarios import live_scenario

__all__ = ["mosquitto"]

pytestmark = pytest.mark.integration


def site_yaml(tmp_path: Path, meters_port: int, mqtt_port: int) -> Path:
    config: dict[str, Any] = {
        "site": {"name": "supervised", "timezone": "Europe/Berlin"},
        "buses": [
            {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": meters_port, "timeout_s": 0.3}
        ],
        "devices": [
            {
                "name": "main_meter",
                "bus": "meters",
                "unit_id": 1,
                "profile": "eastron/sdm630",
                "interval_s": 0.5,
            }
        ],
        "sinks": {
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": "test"},
            "local_store": {"path": "store"},
        },
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_a_rating_that_raises_leaves_polling_and_delivery_running_and_is_logged_once(
    start_factory: StartFactory, mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    factory = await start_factory(live_scenario("tiny"))
    path = site_yaml(tmp_path, factory.bus("meters").port, mosquitto.port)
    calls: list[str] = []

    def broken_rating(period: str) -> Any:
        calls.append(period)
        raise RuntimeError("rubric bug")

    running: dict[str, Agent] = {}
    seqs: list[int] = []
    after_failures = asyncio.Event()

    def started(agent: Agent, _delivery: Delivery) -> None:
        running["agent"] = agent

    caplog.set_level(logging.INFO, logger="agent.runtime")
    background = Background(rating_every_s=0.1, backoff=Backoff(base_s=0.05, cap_s=0.1))
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as sub:
        await sub.subscribe("test/supervised/main_meter/telemetry", qos=1)
        task = asyncio.create_task(
            serve_site(path, load_config(path), started=started, rating=broken_rating, background=background)
        )

        async def collect() -> None:
            seen_after = 0
            async for message in sub.messages:
                assert isinstance(message.payload, bytes)
                seqs.append(json.loads(message.payload)["seq"])
                if len(calls) >= 5:
                    seen_after += 1
                    if seen_after >= 4:
                        after_failures.set()

        collector = asyncio.create_task(collect())
        async with asyncio.timeout(30):
            waiter = asyncio.ensure_future(after_failures.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            assert not task.done(), f"the site stopped: {task.exception()!r}"
            running["agent"].stop()
            await task
        collector.cancel()

    failed = [r.getMessage() for r in caplog.records if "event=task_failed" in r.getMessage()]
    assert len(calls) >= 5, "the rating was retried"
    assert failed == [
        'event=task_failed task=rating error="RuntimeError: rubric bug" '
        'detail="retrying with backoff; polling and delivery go on"'
    ]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "polling went on without a gap"
