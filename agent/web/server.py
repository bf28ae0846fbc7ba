"""Serve the dashboard with uvicorn (the only module that imports it)."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from agent.web.app import check_bind

__all__ = ["EmbeddedServer", "build_server", "serve"]


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside the agent's event loop: the agent owns SIGTERM/SIGINT/SIGHUP, so the
    server must not capture them (uvicorn's default would swallow the agent's clean stop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def build_server(app: FastAPI, host: str, port: int, token: str | None) -> uvicorn.Server:
    """A uvicorn server; `await server.serve()` inside the agent's TaskGroup, `server.should_exit = True`
    to stop it. Refuses a non-loopback host without a token."""
    check_bind(host, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return EmbeddedServer(config)


def serve(app: FastAPI, host: str, port: int, token: str | None) -> None:
    """Blocking: serve until interrupted (the `dashboard` command)."""
    check_bind(host, token)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)).run()
