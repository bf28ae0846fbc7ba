"""The composition root of `energy-agent run` (and the demo): a site's agent, delivery, dashboard and
rating publisher, wired and supervised.

Polling (`Agent.run`) is the one task whose end ends the site: it returns after a stop signal once
its in-flight polls are done. Every other task runs supervised (`agent.runtime.supervise`): the
delivery pipeline, the compressor-room sequencer (`agent.runtime.control`, idle while
`control.mode` is off), the dashboard server and its warm-up, the hourly rating publisher and the
daily KPI publisher (`agent.runtime.kpi`). An error in one
of them is logged once per transition and retried with backoff; it never stops polling or delivery.
The CLI (`agent/cli/run.py`) only parses arguments and calls `serve_site` or `serve_jsonl`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config.loader import LoadedConfig, load_config, store_dir
from agent.errors import AgentError
from agent.rating.site import site_rating_provider as _site_rating_provider
from agent.runtime.control import ControlRunner
from agent.runtime.kpi import KpiPublisher
from agent.runtime.supervise import RETRY, Backoff, periodic, supervise

if TYPE_CHECKING:  # the runtime's heavier parts load only when a site runs
    from agent.runtime.app import Agent
    from agent.runtime.delivery import Delivery
    from agent.runtime.output import JsonLinesOutput

__all__ = ["Background", "serve_jsonl", "serve_site", "site_rating_provider"]

# The one factory of the site's rating (rubric and site rating file from the config): the runtime
# calls it, and re-exports it for callers that wired the runtime's name.
site_rating_provider = _site_rating_provider

log = logging.getLogger("agent.runtime")

Rating = Callable[[str], Any]


@dataclass(frozen=True)
class Background:
    """How often the background tasks run and how their retries back off."""

    rating_every_s: float = 3600.0
    kpi_every_s: float = 300.0
    """How often the KPI publisher checks whether a local day has closed (it sends each day once)."""
    backoff: Backoff = field(default_factory=lambda: RETRY)


async def serve_jsonl(path: Path, loaded: LoadedConfig, output: JsonLinesOutput) -> None:
    """Poll the site into JSON lines (`run --output`), until a stop signal."""
    from agent.runtime.app import Agent
    from agent.runtime.signals import install_signal_handlers

    agent = Agent(loaded, output, loader=lambda: load_config(path))
    control = ControlRunner(agent, None, state_dir=store_dir(loaded.config, path))  # logs, no records
    remove = install_signal_handlers(agent)
    try:
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(agent.run(), name="agent")
            await agent.started.wait()
            sequencer = tg.create_task(supervise("control", control.run), name="control")
            await runner
            sequencer.cancel()
    finally:
        remove()


async def serve_site(
    path: Path,
    loaded: LoadedConfig,
    *,
    started: Callable[[Agent, Delivery], None] | None = None,
    rating: Rating | None = None,
    background: Background | None = None,
) -> None:
    """The agent, its delivery pipeline and (if configured) the dashboard, until a stop signal."""
    from agent.runtime.app import Agent
    from agent.runtime.delivery import Delivery
    from agent.runtime.signals import install_signal_handlers

    background = background or Background()
    delivery = Delivery(loaded.config, store_dir(loaded.config, path), registry=loaded.registry)
    agent = Agent(loaded, delivery, loader=lambda: load_config(path))
    control = ControlRunner(agent, delivery.record, state_dir=delivery.directory)
    rating = rating or site_rating_provider(loaded, delivery.directory / "history.db")
    server, warm_up = _dashboard(loaded, agent, delivery, rating, control)
    remove = install_signal_handlers(agent)
    try:
        async with asyncio.TaskGroup() as tg:
            helpers: dict[str, asyncio.Task[None]] = {}

            def keep(name: str, run: Callable[[], Awaitable[None]]) -> None:
                helpers[name] = tg.create_task(supervise(name, run, backoff=background.backoff), name=name)

            keep("delivery", delivery.run)
            if server is not None:
                keep("dashboard", lambda: _serve_dashboard(server))
            if warm_up is not None:  # fit the baseline before the first visitor asks for it
                keep("dashboard-warm-up", lambda: _warm_up(warm_up))
            runner = tg.create_task(agent.run(), name="agent")
            if delivery.mqtt is not None:
                ratings = periodic(
                    "rating",
                    _rating_step(delivery, rating),
                    background.rating_every_s,
                    backoff=background.backoff,
                )
                helpers["rating"] = tg.create_task(ratings, name="rating")
                kpis = KpiPublisher(loaded, delivery.directory / "history.db", delivery.mqtt)
                helpers["kpi"] = tg.create_task(
                    periodic("kpi", kpis.step, background.kpi_every_s, backoff=background.backoff), name="kpi"
                )
            await agent.started.wait()
            keep("control", control.run)  # on the agent's arbiters and latest polls: once it runs
            if started is not None:
                started(agent, delivery)
            await runner  # returns after a stop signal: in-flight polls finished, output flushed
            if not await delivery.drain():
                log.warning(
                    "event=stop_with_backlog detail=sinks did not confirm everything; it stays queued"
                )
            if server is not None:  # let open requests finish, but a server in backoff is just stopped
                server.should_exit = True
                await asyncio.wait({helpers["dashboard"]}, timeout=5.0)
            for task in helpers.values():
                task.cancel()
    finally:
        remove()
        await delivery.close()


async def _serve_dashboard(server: Any) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits the process when it cannot bind: an error here, not an exit
        raise OSError(f"the dashboard server stopped (exit {exc.code}); is the port in use?") from None


def _rating_step(delivery: Delivery, rating: Rating) -> Callable[[], Awaitable[None]]:
    """Publish this month's rating package retained on {prefix}/{site}/rating (run hourly)."""
    mqtt = delivery.mqtt
    assert mqtt is not None

    async def step() -> None:
        now = datetime.now().astimezone()
        package = await asyncio.to_thread(rating, now.strftime("%Y-%m"))
        if package is not None:
            await mqtt.publish_rating(now.timestamp(), package)

    return step


async def _warm_up(compute: Callable[[], Any]) -> None:
    """Compute the dashboard's cached analytics once in a thread; data that cannot support them
    only shows on the page (a bug raises, and is retried under supervision)."""
    try:
        await asyncio.to_thread(compute)
    except (AgentError, ValueError, ArithmeticError, OSError) as exc:
        log.info("event=dashboard_warm_up_failed detail=%s", exc)


def _dashboard(
    loaded: LoadedConfig, agent: Agent, delivery: Delivery, rating: Rating | None, control: ControlRunner
) -> tuple[Any, Callable[[], Any] | None]:
    web = loaded.config.web
    if web is None:
        return None, None
    from agent.runtime.live import LiveView
    from agent.web.app import TOKEN_ENV, create_app
    from agent.web.history_source import HistorySource
    from agent.web.server import build_server
    from agent.web.settings import settings_for

    token = web.token.get_secret_value() if web.token is not None else os.environ.get(TOKEN_ENV) or None
    live = LiveView(agent, delivery, control.status)
    source = HistorySource(
        delivery.directory / "history.db",
        settings_for(loaded.config, config_path=loaded.path),
        live=live,
        rating=rating,
    )
    app = create_app(source, token=token, health=live.health)
    return build_server(app, web.host, web.port, token), source.overview
