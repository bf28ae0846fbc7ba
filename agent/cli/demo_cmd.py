"""`energy-agent demo`: the demo factory, the agent, its store and dashboard on this machine."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import socket
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parsers", "claim_demo"]

LOCK_NAME = ".demo.lock"


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="run the demo factory: simulated devices, the agent, MQTT and the dashboard"
    )
    p.add_argument("--workdir", type=Path, default=Path("var/demo"), help="history, store and config (kept)")
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="dashboard port (default 8080)")
    p.add_argument("--mqtt-port", type=int, default=1883, help="embedded MQTT broker port (default 1883)")
    p.add_argument("--days", type=int, default=365, help="days of history before today (default 365)")
    p.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "embedded", "none"],
        default="auto",
        help="MQTT broker: auto = Mosquitto if installed, else the embedded one (default auto)",
    )
    p.add_argument("--interval", type=float, default=5.0, help="poll interval of every device, s (default 5)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.days < 60:
        print(
            "error: --days must be at least 60 (the baseline needs history before the retrofit)",
            file=sys.stderr,
        )
        return 1
    try:
        lock = claim_demo(args.workdir.resolve(), _ports(args))
    except OSError as exc:  # one line, exit 1, before anything is generated or written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return _run(args)
    finally:
        os.close(lock)  # releases the lock (the process exit would too)


def _ports(args: argparse.Namespace) -> list[tuple[str, int, str]]:
    ports = [(args.host, args.port, "the dashboard (--port)")]
    if args.broker != "none":
        ports.append(("127.0.0.1", args.mqtt_port, "the MQTT broker (--mqtt-port)"))
    return ports


def _held_by_another(lock: Path) -> bool:
    """True while another process holds the demo lock in this workdir (nothing is created here)."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def _check_free(host: str, port: int, what: str) -> None:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind(address)
        except OSError as exc:
            raise OSError(
                f"port {port} on {host} for {what} is in use ({exc.strerror}); stop what holds it "
                "or choose another port"
            ) from None


def claim_demo(workdir: Path, ports: list[tuple[str, int, str]]) -> int:
    """Refuse (OSError, one line) a demo whose workdir another demo runs in or whose ports are taken,
    before anything is written; else take the workdir's lock and return its descriptor (keep it
    open while the demo runs: closing it, or the process ending, releases the lock).

    The ports are checked again by the servers when they bind, 20 s later; this check is what
    answers at once, and what keeps a refused demo from rewriting a running demo's files."""
    lock = workdir / LOCK_NAME
    if _held_by_another(lock):
        raise OSError(f"a demo is already running in {workdir}; stop it (Ctrl-C) or use another --workdir")
    for host, port, what in ports:
        _check_free(host, port, what)
    workdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another demo took it between the check and here
        os.close(fd)
        raise OSError(
            f"a demo is already running in {workdir}; stop it (Ctrl-C) or use another --workdir"
        ) from None
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _run(args: argparse.Namespace) -> int:
    from agent.demo import DemoPlan, run_demo
    from agent.runtime.loop import run_event_loop

    plan = DemoPlan(
        args.workdir.resolve(), args.host, args.port, args.mqtt_port, args.interval, args.days, args.broker
    )
    print(
        f"preparing the demo factory in {plan.workdir} (the first start generates a year of history) ...",
        file=sys.stderr,
    )

    def ready(endpoints: dict[str, str]) -> None:
        width = max(map(len, endpoints))
        lines = [f"  {name:<{width}}  {where}" for name, where in endpoints.items()]
        print("energy-agent demo is running (Ctrl-C stops it):\n" + "\n".join(lines), flush=True)

    run_event_loop(run_demo(plan, ready=ready))  # uvloop when installed, like `run`
    print("demo stopped", file=sys.stderr)
    return 0
