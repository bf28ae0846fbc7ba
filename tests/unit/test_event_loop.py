"""Which event loop `energy-agent run` (and `demo`) runs on: uvloop when installed, ENERGY_AGENT_LOOP
turns it off or requires it."""

from __future__ import annotations

import asyncio

import pytest

from agent.errors import ConfigError
from agent.runtime.loop import LOOP_ENV, event_loop_factory, run_event_loop


async def loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_turns_uvloop_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    assert event_loop_factory() == ("asyncio", None)
    assert run_event_loop(loop_module()).startswith("asyncio")


@pytest.mark.parametrize("choice", ["auto", "uvloop", "", "UVLOOP"])
def test_uvloop_runs_when_installed(monkeypatch: pytest.MonkeyPatch, choice: str) -> None:
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.setenv(LOOP_ENV, choice)
    name, factory = event_loop_factory()
    assert name == f"uvloop-{uvloop.__version__}"
    assert factory is uvloop.new_event_loop
    assert run_event_loop(loop_module()) == "uvloop"


def test_an_unknown_choice_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_ENV, "trio")
    with pytest.raises(ConfigError, match=f"{LOOP_ENV}: 'trio': expected auto, uvloop or asyncio"):
        run_event_loop(loop_module())
