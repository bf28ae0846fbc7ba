"""`energy-agent demo`: the demo factory, the agent, its store and dashboard on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parsers"]


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
    from agent.demo import DemoPlan, run_demo
    from agent.runtime.loop import run_event_loop

    if args.days < 60:
        print(
            "error: --days must be at least 60 (the baseline needs history before the retrofit)",
            file=sys.stderr,
        )
        return 1
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
