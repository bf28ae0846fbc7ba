"""POSIX signals: SIGTERM / SIGINT stop the agent cleanly, SIGHUP reloads its config."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from agent.runtime.app import Agent

__all__ = ["install_signal_handlers"]


def install_signal_handlers(
    agent: Agent, loop: asyncio.AbstractEventLoop | None = None
) -> Callable[[], None]:
    """Route signals to the agent; returns a function that removes the handlers again."""
    loop = loop or asyncio.get_running_loop()
    handled = {signal.SIGTERM: agent.stop, signal.SIGINT: agent.stop, signal.SIGHUP: agent.request_reload}
    for signum, action in handled.items():
        loop.add_signal_handler(signum, action)

    def remove() -> None:
        for signum in handled:
            loop.remove_signal_handler(signum)

    return remove
