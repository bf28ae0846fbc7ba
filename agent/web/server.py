"""Serve the dashboard with uvicorn (the only module that imports it)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from agent.web.app import check_bind

__all__ = ["build_server", "serve"]


def build_server(app: FastAPI, host: str, port: int, token: str | None) -> uvicorn.Server:
    """A uvicorn server; `await server.serve()` inside the agent's TaskGroup, `server.should_exit = True`
    to stop it. Refuses a non-loopback host without a token."""
    check_bind(host, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


def serve(app: FastAPI, host: str, port: int, token: str | None) -> None:
    """Blocking: serve until interrupted (the `dashboard` command)."""
    build_server(app, host, port, token).run()
