"""`energy-agent run` as a process: SIGHUP applies a changed interval, SIGTERM exits 0 with nothing lost."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import StartFactory
from tests.scenarios import live_scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def records(path: Path, kind: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [r for r in (json.loads(line) for line in lines if line.endswith("}")) if r["type"] == kind]


async def wait_until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def config(port: int, line_interval_s: float) -> str:
    bus = {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 0.3}
    devices = [
        {"name": "main", "bus": "meters", "unit_id": 1, "profile": "eastron/sdm630", "interval_s": 0.5},
        {"name": "line", "bus": "meters", "unit_id": 2, "profile": "eastron/sdm630"}
        | {"interval_s": line_interval_s},
    ]
    return yaml.safe_dump({"site": {"name": "cli"}, "buses": [bus], "devices": devices})


async def test_sighup_reloads_and_sigterm_exits_cleanly(start_factory: StartFactory, tmp_path: Path) -> None:
    factory = await start_factory(live_scenario("tiny"))
    port = factory.bus("meters").port
    site, out = tmp_path / "site.yaml", tmp_path / "out.jsonl"
    site.write_text(config(port, 0.5))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli.run", str(site), "--output", str(out),
        cwd=ROOT, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        polls = lambda device: [r for r in records(out, "poll") if r["device"] == device]  # noqa: E731
        await wait_until(lambda: len(polls("line")) >= 4, 20, "four polls of 'line'")
        site.write_text(config(port, 1.0))
        process.send_signal(signal.SIGHUP)
        reloaded_at = len(polls("line"))

        def slowed_down() -> bool:
            after = [r["ts"] for r in polls("line")[reloaded_at:]]
            return len(after) >= 3 and after[-1] - after[-2] == pytest.approx(1.0)

        await wait_until(slowed_down, 20, "'line' polling every 1.0 s after SIGHUP")
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert b"event=config_reloaded" in err
    for device in ("main", "line"):
        seqs = [r["seq"] for r in polls(device)]
        assert seqs == list(range(len(seqs))), device  # no gap, nothing lost at reload or stop
    main_slots = [r["ts"] for r in polls("main")]
    assert all(b - a == pytest.approx(0.5) for a, b in itertools.pairwise(main_slots))
    assert [e["state"] for e in records(out, "status")] == ["online", "online"]
    # The commissioning view: plain JSON values per point, not a repr string (issue 20).
    first = polls("main")[0]
    voltage = first["readings"]["voltage_l1_n_v"]
    assert set(voltage) == {"value", "unit", "quality", "reason"}
    assert isinstance(voltage["value"], float)
    assert (voltage["unit"], voltage["quality"], voltage["reason"]) == ("V", "good", None)
    assert first["time"].endswith("Z")
