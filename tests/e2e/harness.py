"""What the browser tests share: Debian's Chromium (never a downloaded one) and a dashboard in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from fastapi import FastAPI

from agent.web.server import build_server

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium tries Google's hosts on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, token: str | None = None, port: int | None = None) -> Iterator[str]:
    """Serve `app` on loopback (`port`, default a free one) until the block ends; yields the base URL."""
    port = port or free_port()
    server = build_server(app, "127.0.0.1", port, token)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "dashboard server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
