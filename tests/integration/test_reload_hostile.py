"""A reload that fails, whatever the failure, leaves the running agent polling with its old config.

Issue 17: `analytics: {baseline: {period_start: 2025-02-30}}` by SIGHUP ended the agent with an
ExceptionGroup, and a "billion laughs" file by SIGHUP grew it to 3.3 GB.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import sys
from pathlib import Path

import pytest

from agent.config.loader import LoadedConfig, load_config
from agent.runtime.app import Agent
from agent.runtime.output import MemoryOutput
from tests.integration.conftest import StartFactory
from tests.integration.test_runtime_cli import ROOT, config, records, wait_until
from tests.scenarios import live_scenario

pytestmark = pytest.mark.integration

IMPOSSIBLE_DATE = "\nanalytics: {baseline: {period_start: 2025-02-30}}\n"


def alias_bomb() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n" + "\n".join(lines) + "\n"


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


async def test_a_reload_of_a_hostile_file_keeps_the_agent_polling(
    start_factory: StartFactory, tmp_path: Path
) -> None:
    factory = await start_factory(live_scenario("tiny"))
    port = factory.bus("meters").port
    site, out = tmp_path / "site.yaml", tmp_path / "out.jsonl"
    good = config(port, 0.5)
    site.write_text(good)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli.run", str(site), "--output", str(out),
        cwd=ROOT, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        polls = lambda: [r for r in records(out, "poll") if r["device"] == "line"]  # noqa: E731
        await wait_until(lambda: len(polls()) >= 2, 20, "two polls of 'line'")
        for hostile in (IMPOSSIBLE_DATE, alias_bomb()):
            site.write_text(config(port, 1.0) + hostile)  # the interval change must not apply
            before = len(polls())
            process.send_signal(signal.SIGHUP)
            await wait_until(lambda before=before: len(polls()) >= before + 4, 20, "four more polls")
        rss_mb = peak_rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)
        _, raw = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    err = raw.decode()
    assert process.returncode == 0, err
    assert err.count("event=reload_rejected") == 2, err
    assert "event=config_reloaded" not in err
    assert "Traceback" not in err
    assert "period_start" in err
    assert "not a valid date" in err
    assert "alias bomb" in err
    slots = [r["ts"] for r in polls()]
    assert all(b - a == pytest.approx(0.5) for a, b in itertools.pairwise(slots)), slots
    assert rss_mb < 300, f"the agent grew to {rss_mb:.0f} MB on an alias bomb"


async def test_a_reload_failing_by_any_exception_logs_one_line_and_keeps_the_old_config(
    start_factory: StartFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The loader seam raises what no config file can raise today: the runtime must not care."""
    factory = await start_factory(live_scenario("tiny"))
    site = tmp_path / "site.yaml"
    site.write_text(config(factory.bus("meters").port, 0.5))
    loaded = load_config(site)

    def failing_loader() -> LoadedConfig:
        raise ExceptionGroup(
            "unhandled errors in a TaskGroup", [ValueError("day is out of range\nfor month")]
        )

    output = MemoryOutput()
    agent = Agent(loaded, output, loader=failing_loader)
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), 5)
    await wait_until(lambda: len(output.of("line")) >= 2, 20, "two polls of 'line'")
    with caplog.at_level(logging.INFO, logger="agent.runtime"):
        agent.request_reload()
        before = len(output.of("line"))
        await wait_until(lambda: len(output.of("line")) >= before + 3, 20, "three more polls")
    rejected = [r.getMessage() for r in caplog.records if "reload" in r.getMessage()]
    agent.stop()
    await asyncio.wait_for(task, 10)
    assert len(rejected) == 1, rejected
    assert rejected[0].startswith("event=reload_rejected error=")
    assert "ExceptionGroup" in rejected[0]
    assert "\n" not in rejected[0]
    assert agent.loaded is loaded
    assert agent.reloads == 0
    assert all(r.status == "ok" for r in output.of("line"))
