"""How fast a demo that cannot run says so: a second demo in the same workdir, and a taken port.

    .venv/bin/python bench/bench_demo_refusal.py

Prints the median wall time of 5 refusals each (process start to exit, Python start-up included),
on this machine. The tests check what a refusal leaves behind (nothing); this is the speed figure.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _refusal_s(args: list[str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(args, capture_output=True, check=False, timeout=60)
    took = time.perf_counter() - began
    if done.returncode != 1:
        raise SystemExit(f"expected a refusal (exit 1), got {done.returncode}: {done.stderr.decode()}")
    return took


def main() -> None:
    with socket.socket() as holder, tempfile.TemporaryDirectory() as tmp:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = [sys.executable, "-m", "agent.cli", "demo", "--workdir", str(Path(tmp) / "demo")]
        taken = [_refusal_s([*args, "--port", str(port)]) for _ in range(5)]
    print(f"demo refusing a taken dashboard port: median {statistics.median(taken):.2f} s of 5")


if __name__ == "__main__":
    main()
