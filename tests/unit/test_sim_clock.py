"""The agent can follow a simulator's accelerated clock, only when asked, and says so loudly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent.errors import ConfigError
from agent.runtime.schedule import SIM_CLOCK_ENV, SimClockSpec, SimulatedClock, SystemClock, default_clock
from simulators.clock import SharedClock


def test_the_spec_round_trips_and_both_sides_tell_the_same_time() -> None:
    spec = SimClockSpec.parse("start=2024-01-09T00:00:00+08:00,speed=3600,anchor=1000.5")
    assert spec == SimClockSpec(1704729600.0, 3600.0, 1000.5)
    assert SimClockSpec.parse(spec.format()) == spec
    assert spec.now(wall=1001.5) == 1704729600.0 + 3600
    shared = SharedClock(spec, refresh_s=300)
    assert shared.now() % 300 == 0  # a device refreshing every 300 s shows the period's start
    assert SimulatedClock(spec).time() == pytest.approx(spec.now(), abs=3600 * 0.1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("speed=10", "needs start="),
        ("start=2024-01-09T00:00:00,speed=10", "no UTC offset"),
        ("start=yesterday,speed=10", "neither epoch seconds nor an ISO time"),
        ("start=0,speed=fast", "not a number"),
        ("start=0,speed=0", "speed must be in"),
        ("start=0,speed=10,rate=2", "expected start="),
    ],
)
def test_a_bad_spec_is_a_config_error_naming_the_variable(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        SimClockSpec.parse(text)
    (issue,) = info.value.issues
    assert issue.path == SIM_CLOCK_ENV
    assert message in issue.message


def test_without_the_variable_the_agent_runs_on_the_system_clock() -> None:
    assert type(default_clock({})) is SystemClock


def test_the_simulated_clock_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    clock = default_clock({SIM_CLOCK_ENV: "start=0,speed=60"})
    assert isinstance(clock, SimulatedClock)
    (record,) = [r for r in caplog.records if "event=simulated_clock" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "SIMULATED" in record.getMessage()


async def test_a_wait_ends_at_the_simulated_target_never_before_it() -> None:
    clock = SimulatedClock(SimClockSpec.parse("start=0,speed=3600"))
    stop = asyncio.Event()
    for _ in range(20):
        target = clock.time() + 30.0  # 30 simulated seconds = 8.3 ms
        await clock.wait(30.0, stop)
        assert clock.time() >= target
    stop.set()
    await clock.wait(3600.0, stop)  # a stopped wait returns at once
