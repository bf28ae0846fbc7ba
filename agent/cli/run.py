"""`energy-agent run CONFIG`: poll every device of a site until SIGTERM / SIGINT; SIGHUP reloads.

Readings go through the durable outbox to the configured sinks (MQTT, InfluxDB), interval energy to
the local history store, and the dashboard is served when the config has a `web:` section.
`--output FILE` instead writes JSON lines (for debugging a config without any sink).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent.config.loader import LoadedConfig, load_config, store_dir
from agent.errors import AgentError, ConfigError, ConfigIssue

if TYPE_CHECKING:  # the runtime loads only when `run` runs, so `validate` stays instant
    from agent.runtime.app import Agent
    from agent.runtime.delivery import Delivery
    from agent.runtime.output import JsonLinesOutput

__all__ = [
    "LOOP_ENV",
    "add_parsers",
    "event_loop_factory",
    "main",
    "run_command",
    "run_event_loop",
    "serve_site",
    "site_rating_provider",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# ENERGY_AGENT_LOOP=asyncio keeps the standard library's event loop even when uvloop is installed.
LOOP_ENV = "ENERGY_AGENT_LOOP"


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="poll the site's devices until stopped (SIGTERM/SIGINT stop, SIGHUP reloads the config)",
    )
    parser.add_argument("config", type=Path, help="site config YAML")
    parser.add_argument(
        "--output",
        default=None,
        help="debug: write poll results, status events and interval energy as JSON lines to this file "
        "('-' = stdout) instead of the outbox and sinks",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)  # a ConfigError here exits 1 with every issue listed
    if args.output is not None:
        from agent.runtime.output import JsonLinesOutput

        output = JsonLinesOutput(None if args.output == "-" else Path(args.output))
        try:
            run_event_loop(_serve_jsonl(args.config, loaded, output))
        finally:
            output.close()
        return 0
    run_event_loop(serve_site(args.config, loaded))
    return 0


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


async def _serve_jsonl(path: Path, loaded: LoadedConfig, output: JsonLinesOutput) -> None:
    from agent.runtime.app import Agent
    from agent.runtime.signals import install_signal_handlers

    agent = Agent(loaded, output, loader=lambda: load_config(path))
    remove = install_signal_handlers(agent)
    try:
        await agent.run()
    finally:
        remove()


async def serve_site(
    path: Path,
    loaded: LoadedConfig,
    *,
    started: Callable[[Agent, Delivery], None] | None = None,
    rating: Callable[[str], Any] | None = None,
) -> None:
    """The agent, its delivery pipeline and (if configured) the dashboard, until a stop signal."""
    from agent.runtime.app import Agent
    from agent.runtime.delivery import Delivery
    from agent.runtime.signals import install_signal_handlers

    delivery = Delivery(loaded.config, store_dir(loaded.config, path))
    agent = Agent(loaded, delivery, loader=lambda: load_config(path))
    rating = rating or site_rating_provider(loaded, delivery.directory / "history.db")
    server, warm_up = _dashboard(loaded, agent, delivery, rating)
    remove = install_signal_handlers(agent)
    try:
        async with asyncio.TaskGroup() as tg:
            pipeline = tg.create_task(delivery.run(), name="delivery")
            web = tg.create_task(server.serve(), name="dashboard") if server is not None else None
            if warm_up is not None:  # fit the baseline before the first visitor asks for it
                tg.create_task(_warm_up(warm_up), name="dashboard-warm-up")
            runner = tg.create_task(agent.run(), name="agent")
            publisher = (
                tg.create_task(_publish_ratings(delivery, rating), name="rating") if delivery.mqtt else None
            )
            await agent.started.wait()
            if started is not None:
                started(agent, delivery)
            await runner  # returns after a stop signal: in-flight polls finished, output flushed
            if not await delivery.drain():
                log.warning(
                    "event=stop_with_backlog detail=sinks did not confirm everything; it stays queued"
                )
            if server is not None and web is not None:
                server.should_exit = True
                await web
            pipeline.cancel()
            if publisher is not None:
                publisher.cancel()
    finally:
        remove()
        await delivery.close()


def site_rating_provider(
    loaded: LoadedConfig, history: Path, site_rating: Path | None = None
) -> Callable[[str], Any]:
    """The default rubric over the site's history; a period without data rates as None, not an error.

    `site_rating` is the site's rating file (declared values, sector curves); without it the
    declared indicators score 0 and the placeholder curves stay.

    The analytics (pandas, numpy: ~55 MB of RSS) load on the first call that finds energy in the
    history, in the rating's worker thread, so a gateway that only polls and forwards never pays
    for them (docs/performance.md).
    """
    provide: Callable[[str], Any] | None = None

    def safe(period: str) -> Any:
        nonlocal provide
        if provide is None:
            if not _has_energy(history):
                return None
            provide = _rating_provider(loaded, history, site_rating)
        from agent.analytics.errors import InsufficientData

        try:
            return provide(period)
        except InsufficientData as exc:
            log.info("event=rating_unavailable period=%s reason=%s", period, exc)
            return None

    return safe


def _has_energy(history: Path) -> bool:
    from agent.history.store import HistoryStore

    if not history.exists():
        return False
    with HistoryStore(history) as store:
        return bool(store.devices())


def _rating_provider(loaded: LoadedConfig, history: Path, site_rating: Path | None) -> Callable[[str], Any]:
    from agent.rating import default_rubric_path, load_rubric, load_site_rating
    from agent.rating.provider import rating_provider

    rubric = load_rubric(default_rubric_path())
    site = None if site_rating is None else load_site_rating(site_rating, rubric)
    return rating_provider(loaded, history, rubric, site)


async def _publish_ratings(delivery: Delivery, rating: Callable[[str], Any], every_s: float = 3600.0) -> None:
    """Publish this month's rating package retained on {prefix}/{site}/rating, hourly."""
    assert delivery.mqtt is not None
    while True:
        now = datetime.now().astimezone()
        try:
            package = await asyncio.to_thread(rating, now.strftime("%Y-%m"))
        except (AgentError, ValueError, ArithmeticError) as exc:  # a bad month must not stop polling
            log.warning("event=rating_failed detail=%s", exc)
            package = None
        if package is not None:
            await delivery.mqtt.publish_rating(now.timestamp(), package)
        await asyncio.sleep(every_s)


async def _warm_up(compute: Callable[[], Any]) -> None:
    """Compute the dashboard's cached analytics once in a thread; a failure only shows on the page."""
    try:
        await asyncio.to_thread(compute)
    except (AgentError, ValueError, ArithmeticError, OSError) as exc:
        log.info("event=dashboard_warm_up_failed detail=%s", exc)


def _dashboard(
    loaded: LoadedConfig, agent: Agent, delivery: Delivery, rating: Callable[[str], Any] | None
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
    source = HistorySource(
        delivery.directory / "history.db",
        settings_for(loaded.config),
        live=LiveView(agent, delivery),
        rating=rating,
    )
    return build_server(create_app(source, token=token), web.host, web.port, token), source.overview


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: `python -m agent.cli.run CONFIG [--output FILE]`."""
    parser = argparse.ArgumentParser(prog="energy-agent")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
