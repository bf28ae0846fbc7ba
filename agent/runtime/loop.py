"""The event loop `run` and `demo` use: uvloop when installed, unless ENERGY_AGENT_LOOP=asyncio."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from agent.errors import ConfigError, ConfigIssue

__all__ = ["LOOP_ENV", "event_loop_factory", "run_event_loop"]

log = logging.getLogger("agent.runtime")

T = TypeVar("T")

# ENERGY_AGENT_LOOP=asyncio keeps the standard library's event loop even when uvloop is installed.
LOOP_ENV = "ENERGY_AGENT_LOOP"


def event_loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """The loop `run` and `demo` use: uvloop when installed, unless ENERGY_AGENT_LOOP=asyncio.

    ENERGY_AGENT_LOOP: unset or "auto" (uvloop if importable), "uvloop" (required: an error if it is
    missing), "asyncio" (the standard loop). Returns the loop's name and the factory (None: asyncio's).
    """
    choice = os.environ.get(LOOP_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "uvloop", "asyncio"):
        raise ConfigError([_env_issue(f"{choice!r}: expected auto, uvloop or asyncio")])
    if choice == "asyncio":
        return "asyncio", None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError([_env_issue("uvloop is not installed")]) from None
        return "asyncio", None
    return f"uvloop-{getattr(uvloop, '__version__', '?')}", uvloop.new_event_loop


def _env_issue(message: str) -> ConfigIssue:
    return ConfigIssue("environment", None, LOOP_ENV, message)


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on the loop event_loop_factory() picks, logging which one runs."""
    try:
        name, factory = event_loop_factory()
    except ConfigError:
        main.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    log.info("event=event_loop loop=%s", name)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
