"""The compressor-room control page (`/control`) in a real browser: Debian's Chromium through Playwright.

The live state is a fake with the contract's shape whose decisions the real sequencer made
(tests/e2e/control_fake.py); the browser runs in UTC so the decision times must come out in the
site's timezone (Asia/Shanghai), not the browser's. Screenshots go to $ENERGY_AGENT_SCREENSHOTS
(default: the test's temporary directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from agent.history.store import HistoryStore
from agent.web import HistorySource, LiveState, create_app
from tests.e2e.control_fake import (
    T0,
    ControlLive,
    PlainLive,
    active,
    dry_run_status,
    held,
    limited,
    low_pressure,
    room,
)
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, serve_in_thread
from tests.e2e.synthetic import NOW, settings

RED, AMBER = "rgb(179, 38, 30)", "rgb(179, 92, 0)"  # --bad and --warn of app.css
WORDS = {
    "en": {
        "mode": "dry run",
        "nothing": "Nothing is written to the compressors.",
        "pressure_low": "pressure low",
        "machine_local": "machine in local mode · c2",
        "start": "start",
        "safety": "safety",
        "would": "would write",
        "reason": "— pressure 5.80 bar below minimum 6 bar: start",
        "minimum": "minimum 6.00",
        "absent": "This site has no compressor-room control",
        "off": "off",
    },
    "zh-CN": {
        "mode": "模拟运行",
        "nothing": "不向空压机写入任何命令。",
        "pressure_low": "压力过低",
        "machine_local": "机组处于本地模式 · c2",
        "start": "启动",
        "safety": "安全",
        "would": "拟写入",
        "reason": "— 压力 5.80 bar 低于最低压力 6 bar：启动",
        "minimum": "最低 6.00",
        "absent": "本站未启用空压机群控",
        "off": "关闭",
    },
}
# Per chart: the data plotly holds and what it drew (SVG), read in the page.
CHART_JS = """
(id) => { const d = document.getElementById(id); return {
  x: d.data[0].x, y: d.data[0].y, colors: d.data[0].marker.color,
  shapes: (d.layout.shapes || []).map((s) => [s.type, s.y0, s.y1]),
  drawnShapes: d.querySelectorAll('.shapelayer path').length,
  drawnPoints: d.querySelectorAll('.scatterlayer .trace .point').length,
  labels: Array.from(d.querySelectorAll('.annotation-text')).map((n) => n.textContent),
  ytitle: Array.from(d.querySelectorAll('.g-ytitle text')).map((n) => n.textContent),
}; }
"""
# What may stay Latin on the Chinese page: device and room ids, units, the config snippet and keys.
LATIN_ALLOWED = re.compile(
    r"\b[cv]\d\b|\bmain\b|bar|m³/min|writes_enabled: true|dry-run|control|docs/control\.md"
)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("control-e2e") / "history.sqlite"
    with HistoryStore(path):
        pass
    return path


def _app(history: Path, live: LiveState) -> Any:
    return create_app(HistorySource(history, settings(), live=live, clock=lambda: NOW), poll_seconds=0.5)


@pytest.fixture(scope="module")
def dry_run_url(history: Path) -> Iterator[str]:
    with serve_in_thread(_app(history, ControlLive(dry_run_status()))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert errors == []


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("ENERGY_AGENT_SCREENSHOTS", str(tmp_path)))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _open(page: Page, url: str, lang: str) -> None:
    page.add_init_script(f"window.localStorage.setItem('ea-lang', '{lang}')")
    page.goto(url + "/control")
    page.wait_for_selector("#content[data-ready]")
    # refresh() shows a failed load or render in the header instead of throwing
    page.wait_for_function("document.getElementById('updated').textContent !== ''")
    assert page.locator("#updated").inner_text().startswith(("Updated", "更新于"))


def _chart(page: Page, points: int) -> dict[str, Any]:
    page.wait_for_function(
        "(n) => { const d = document.getElementById('ctl-main-chart');"
        " return d && d.data && d.data[0].y.length === n && d.querySelector('.scatterlayer .trace'); }",
        arg=points,
    )
    chart: dict[str, Any] = page.evaluate(CHART_JS, "ctl-main-chart")
    return chart


def _texts(page: Page) -> list[str]:
    selector = (
        "nav a, #content h2, #content h3, #content th, #content td, #content .sub, #content .pill,"
        " #content .value, #content .cmd, #content p, #content .annotation-text, #content .g-ytitle"
    )
    texts: list[str] = page.locator(selector).evaluate_all("(ns) => ns.map((n) => n.textContent)")
    return texts


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_dry_run_room_shows_its_mode_alarms_band_and_decisions(
    page: Page, dry_run_url: str, tmp_path: Path, lang: str
) -> None:
    words = WORDS[lang]
    _open(page, dry_run_url, lang)
    badge = page.locator("#control-mode-badge")
    assert (badge.get_attribute("data-mode"), badge.inner_text()) == ("dry-run", words["mode"])
    assert page.locator("#control-mode-note").inner_text().endswith(words["nothing"])
    assert page.locator("nav a[data-nav=control]").get_attribute("class") == "active"

    alarms = page.locator("#ctl-main-alarms .pill").evaluate_all(
        "(ns) => ns.map((n) => [n.dataset.code, n.textContent, getComputedStyle(n).color])"
    )
    assert sorted(alarms) == [
        ["machine_local", words["machine_local"], AMBER],
        ["pressure_low", words["pressure_low"], RED],
    ]
    assert page.locator("#ctl-main-pressure .value").inner_text() == "5.80 bar"

    chart = _chart(page, 2)  # oldest first, at the site's wall-clock time (the browser runs in UTC)
    assert chart["x"] == ["2025-10-15 13:59:00", "2025-10-15 14:00:00"]
    assert chart["y"] == [6.9, 5.8]
    assert chart["colors"] == ["#12303f", "#b3261e"]  # the low-pressure decision's point in red
    assert chart["shapes"] == [
        ["rect", 6.6, 7.0],
        ["line", 6.6, 6.6],
        ["line", 7.0, 7.0],
        ["line", 6.8, 6.8],
        ["line", 6.0, 6.0],
    ]
    assert chart["drawnShapes"] == 5
    assert chart["drawnPoints"] == 2
    assert words["minimum"] in chart["labels"]

    rows = page.locator("#ctl-main-decisions tbody tr")
    assert rows.count() == 2
    newest = rows.nth(0)
    assert newest.locator("td").nth(0).inner_text() == "2025-10-15 14:00:00"
    start = newest.locator(".cmd[data-device=v1][data-point=run_command]")
    assert start.locator("span[title=run_command]").inner_text() == words["start"]
    assert start.locator("[data-safety]").inner_text() == words["safety"]
    assert start.locator("[data-written]").inner_text() == words["would"]
    assert start.locator(".reason").inner_text().strip() == words["reason"]
    assert (
        newest.locator("[data-written]").evaluate_all("(ns) => ns.map((n) => n.dataset.written)")
        == ["would"] * newest.locator(".cmd").count()
    )  # dry-run: every command, heartbeats too, would be written
    older = rows.nth(1)
    deferred = dry_run_status()["rooms"][0]["decisions"][1]["deferred"]  # the limit of 2 a minute
    assert len(deferred) >= 4
    assert older.locator("[data-state=deferred]").count() == len(deferred)
    withdrawn = older.locator(".cmd", has=page.locator("[data-state=withdrawn]"))
    assert (withdrawn.get_attribute("data-device"), withdrawn.get_attribute("data-point")) == (
        "c2",
        "run_command",
    )

    texts = _texts(page)
    assert [t for t in texts if "ctl." in t] == []  # no string key shown instead of its words
    if lang == "zh-CN":
        english = [t for t in texts if re.search(r"[A-Za-z]{2,}", LATIN_ALLOWED.sub("", t))]
        assert english == [], f"untranslated on the Chinese control page: {english}"
    page.screenshot(path=str(_shots(tmp_path) / f"control-dry-run-{lang}.png"), full_page=True)


def test_the_page_follows_the_live_state_without_reloading(page: Page, history: Path, tmp_path: Path) -> None:
    live = ControlLive(dry_run_status())
    with serve_in_thread(_app(history, live)) as url:
        _open(page, url, "en")
        _chart(page, 2)
        page.evaluate("window.notReloaded = true")

        live.status = {
            "mode": "active",
            "cycle_s": 5.0,
            "rooms": [room([active(T0 + 5), low_pressure(T0), limited(T0 - 60)])],
        }
        page.wait_for_function("document.getElementById('control-mode-badge').dataset.mode === 'active'")
        chart = _chart(page, 3)
        assert chart["y"] == [6.9, 5.8, 6.3]
        newest = page.locator("#ctl-main-decisions tbody tr").nth(0)
        written = newest.locator(".cmd").evaluate_all(
            "(ns) => ns.map((n) => [n.dataset.device, n.dataset.point,"
            " n.querySelector('[data-written]').dataset.written])"
        )
        assert ["c1", "load_command", "no"] in written  # refused by the device
        assert ["c2", "load_pressure_setpoint_bar", "yes"] in written
        assert ["v1", "run_command", "no"] in written  # no writes_enabled: never written
        beats = newest.locator(".cmd[data-point=heartbeat]").all_inner_texts()
        assert beats == ["Heartbeat 1 → c1, c2 written", "Heartbeat 1 → v1 not written"]
        assert page.locator("#ctl-main-alarms").inner_text().endswith("none")
        page.screenshot(path=str(_shots(tmp_path) / "control-active.png"), full_page=True)

        latest = [held(T0 + 10), active(T0 + 5), low_pressure(T0)]
        live.status = {"mode": "active", "cycle_s": 5.0, "rooms": [room(latest)]}
        page.wait_for_function("document.getElementById('ctl-main-chart').data[0].y[2] === null")
        chart = _chart(page, 3)  # the held cycle's pressure is a gap in the line, not a zero
        assert chart["y"] == [5.8, 6.3, None]
        assert page.locator("#ctl-main-pressure .value").inner_text() == "—"
        assert page.locator("#ctl-main-pressure .sub").inner_text() == "no trusted reading: the room is held"
        pill = page.locator("#ctl-main-alarms .pill")
        assert (pill.inner_text(), pill.get_attribute("data-severity")) == ("pressure reading bad", "red")
        newest = page.locator("#ctl-main-decisions tbody tr").nth(0)
        assert newest.locator("td").nth(4).inner_text() == "no command"

        live.status = None  # control switched off while the page is open
        page.locator("#control-absent").wait_for()
        assert page.locator("#control-mode-badge").get_attribute("data-mode") == "off"
        assert page.evaluate("window.notReloaded") is True
        page.close()  # no poll may reach the server once it stops


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_site_without_control_explains_how_to_enable_it(
    page: Page, history: Path, tmp_path: Path, lang: str
) -> None:
    words = WORDS[lang]
    with serve_in_thread(_app(history, PlainLive())) as url:
        _open(page, url, lang)
        note = page.locator("#control-absent")
        note.wait_for()
        assert note.locator("b").inner_text().startswith(words["absent"])
        assert "mode: dry-run" in note.locator("pre").inner_text()
        assert note.locator("code").inner_text() == "docs/control.md"
        badge = page.locator("#control-mode-badge")
        assert (badge.get_attribute("data-mode"), badge.inner_text()) == ("off", words["off"])
        assert page.locator(".js-plotly-plot").count() == 0
        if lang == "zh-CN":
            texts = [t for t in _texts(page) if not t.startswith("control:")]
            english = [t for t in texts if re.search(r"[A-Za-z]{2,}", LATIN_ALLOWED.sub("", t))]
            assert english == []
        page.screenshot(path=str(_shots(tmp_path) / f"control-absent-{lang}.png"), full_page=True)
        page.close()
