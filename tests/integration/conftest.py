"""Shared fixtures for integration tests: things started on 127.0.0.1 and always stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from simulators.scenario import Scenario
from simulators.server import SimulatedFactory

StartFactory = Callable[..., Awaitable[SimulatedFactory]]


@pytest.fixture
async def start_factory() -> AsyncIterator[StartFactory]:
    """`await start_factory(scenario, clock=...)`: a simulated factory on free ports, stopped at the end."""
    started: list[SimulatedFactory] = []

    async def start(scenario: Scenario, **options: Any) -> SimulatedFactory:
        factory = SimulatedFactory(scenario, **options)
        await factory.start()
        started.append(factory)
        return factory

    yield start
    for factory in started:
        await factory.stop()
