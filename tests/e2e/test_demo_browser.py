"""The running demo in a real browser: every page loads without console errors, charts carry data and
units, the 中文 toggle translates and survives a reload, and a token-protected dashboard refuses
strangers. Debian's Chromium through Playwright (never a downloaded browser).

`energy-agent demo` runs as a subprocess on free ports (the first start writes 150 days of history)
and must stop with exit 0 on SIGINT. Screenshots of every page, in English and Chinese, go to
$ENERGY_AGENT_SCREENSHOTS (default: a temporary directory):

    ENERGY_AGENT_SCREENSHOTS=var/screenshots .venv/bin/pytest -q tests/e2e/test_demo_browser.py
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from agent.web import HistorySource, create_app
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, free_port, serve_in_thread
from tests.e2e.synthetic import NOW, build_site

# page path -> the charts it must draw with data
PAGES = {
    "overview": ("/", ["chart-power", "chart-energy"]),
    "devices": ("/devices", ["chart-devices"]),
    "air": ("/air", ["chart-header", "chart-states", "chart-pressure", "chart-sp"]),
    "savings": ("/savings", ["chart-baseline", "chart-cumulative"]),
    "rating": ("/rating", []),
}
TOKEN = "s3cret"
# Headings that read the same in both languages: standards, statistics and device ids.
SAME_IN_BOTH = re.compile(
    r"^(Guideline 14|IPMVP|CV\(RMSE\)|NMBE|adj\. R²|R²|ρ|± kWh|[a-z0-9_]+|.*[\u4e00-\u9fff].*|)$"
)
CHARTS_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((d) => ({
  id: d.id,
  points: (d.data || []).map((t) => (t.y || []).filter((v) => v !== null).length),
  unit: ((d._fullLayout.yaxis || {}).title || {}).text || '',
}))
"""


def _wait_for_banner(process: subprocess.Popen[bytes], stdout: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = stdout.read_text(encoding="utf-8", errors="replace")
        if "dashboard" in text:
            return text
        assert process.poll() is None, f"demo exited with {process.returncode} before it was ready"
        time.sleep(0.1)
    raise AssertionError(f"demo did not print its banner within {timeout} s")


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("demo")
    web, mqtt = free_port(), free_port()
    command = [sys.executable, "-m", "agent.cli", "demo", "--workdir", str(workdir)]
    command += ["--port", str(web), "--mqtt-port", str(mqtt), "--days", "150", "--interval", "1"]
    # Files, not pipes: the demo logs every device start, and a full pipe would stall it.
    with (workdir / "stdout.txt").open("wb") as out, (workdir / "stderr.txt").open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        try:
            banner = _wait_for_banner(process, workdir / "stdout.txt", timeout=60)
            assert f"http://127.0.0.1:{web}/" in banner
            yield f"http://127.0.0.1:{web}"
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
    assert code == 0, (workdir / "stderr.txt").read_text(encoding="utf-8", errors="replace")[-2000:]


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("ENERGY_AGENT_SCREENSHOTS")
    out = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    page: Page
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A page whose console errors and uncaught exceptions are collected; none may occur."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    result = Watched(page)
    page.on("console", lambda msg: result.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: result.errors.append(f"uncaught: {exc}"))
    yield result
    context.close()


def _open(page: Page, url: str, charts: list[str]) -> list[dict[str, object]]:
    """Load a page and wait until its content is built and every chart has points."""
    page.goto(url)
    page.wait_for_selector("#content[data-ready]", timeout=30_000)
    if charts:
        page.wait_for_function(
            "(ids) => ids.every((id) => { const d = document.getElementById(id);"
            " return d && d.data && d.data.some((t) => (t.y || []).length > 0); })",
            arg=charts,
            timeout=30_000,
        )
    drawn: list[dict[str, object]] = page.evaluate(CHARTS_JS)
    return drawn


def _assert_point_lists_fold(page: Page) -> None:
    """32 meters with ~50 points each: a row shows the key readings, the rest folds away."""
    main_values = page.locator("details[data-key='values-main_meter']")
    assert main_values.locator("summary").inner_text().startswith("all ")
    row = page.locator("tr", has=main_values)
    assert row.locator("[data-point=active_power_total_kw]").inner_text() == "Active power total"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 8000, f"devices page is {height} px tall"


@pytest.mark.parametrize("name", list(PAGES))
def test_each_demo_page_loads_without_console_errors_and_charts_carry_data(
    watched: Watched, demo_url: str, shots: Path, name: str
) -> None:
    path, charts = PAGES[name]
    drawn = _open(watched.page, demo_url + path, charts)
    assert sorted(str(c["id"]) for c in drawn) == sorted(charts)
    for chart in drawn:
        assert chart["points"], f"{name}: {chart['id']} has no traces"
        assert max(chart["points"]) > 1, f"{name}: {chart['id']} traces are empty: {chart['points']}"  # type: ignore[call-overload]
        assert chart["unit"], f"{name}: {chart['id']} y axis shows no unit"
    assert watched.page.locator("#updated").inner_text().startswith("Updated")
    if name == "devices":
        _assert_point_lists_fold(watched.page)
    watched.page.screenshot(path=str(shots / f"demo-{name}-en.png"), full_page=True)
    assert watched.errors == []


def test_chinese_toggle_translates_every_page_and_survives_a_reload(
    watched: Watched, demo_url: str, shots: Path
) -> None:
    page = watched.page
    _open(page, demo_url + "/", PAGES["overview"][1])
    page.click("#lang-toggle")
    assert page.locator("nav a[data-nav=overview]").inner_text() == "总览"
    assert page.locator("#kpi-today-energy h3").inner_text() == "今日用电量"
    assert page.locator("#kpi-power .sub").inner_text().startswith("实时读数")
    page.reload()
    page.wait_for_selector("#content[data-ready]")
    assert page.locator("#lang-toggle").inner_text() == "English"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    for name, (path, charts) in PAGES.items():
        _open(page, demo_url + path, charts)
        headings = page.locator("nav a, h2, h3, th, summary, #updated").all_inner_texts()
        english = [text for text in headings if not SAME_IN_BOTH.match(text.strip())]
        assert english == [], f"{name}: untranslated {english}"
        page.screenshot(path=str(shots / f"demo-{name}-zh.png"), full_page=True)
    assert watched.errors == []


# The 中文 pages (all but the compressed-air page, which is built separately) are checked in these areas:
# headings, tables, cards, badges, point names, notices, chart axes. What may stay Latin: units, standards
# and statistics that read the same in both languages, device ids (the config's names) and numbers.
CHECKED = (
    "nav a, h2, h3, th, td:not(:last-child), summary, .kpi .value, .kpi .sub, .card .sub, .pill, "
    ".values .point, .note, li, .xtick text, .ytick text, .ytitle, #updated"
)
LATIN_ALLOWED = re.compile(
    r"kWh|MWh|kVAh|kvarh|kVA|kvar|kW|kgce|kgCO2|tCO₂|CO₂|tce|CNY|Modbus|THD|IPMVP|CV\(RMSE\)|NMBE|"
    r"adj\. R²|R²|GB/?T? ?[\d.-]+|ASHRAE|L[123]|ms|m³|min|bar|Hz|rpm|pcs|°C|\bh\b|\bt\b|\bV\b|\bA\b|\bN\b|"
    r"\bn\b|\bp\b|\bt\b|ρ|±|JSON|Option [BC]|[A-D]{1,4}\b"
)
RAW_IDENTIFIER = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
GLYPH_NODES = ("nav a[data-nav=overview]", "h2", "h3")


def _zh_fonts() -> set[str]:
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True)
    return {name.strip() for line in listed.stdout.splitlines() for name in line.split(",") if name.strip()}


def _platform_fonts(page: Page, selector: str) -> set[str]:
    """The fonts Chromium drew the first `selector` node's text with (CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {font["familyName"] for font in fonts}


def test_chinese_pages_have_no_english_words_raw_identifiers_or_missing_glyphs(
    watched: Watched, demo_url: str, shots: Path, device_names: set[str]
) -> None:
    cjk = _zh_fonts()
    assert cjk, "no CJK font: scripts/setup-services.sh installs fonts-wqy-microhei"
    page = watched.page
    page.add_init_script("window.localStorage.setItem('ea-lang', 'zh-CN')")
    problems: list[str] = []
    for name in ("overview", "devices", "savings", "rating"):
        path, charts = PAGES[name]
        _open(page, demo_url + path, charts)
        for details in page.locator("details").all():
            details.evaluate("(d) => { d.open = true; }")
        shown = page.eval_on_selector_all(CHECKED, "els => els.map((e) => e.innerText ?? e.textContent)")
        texts = [str(t).strip() for t in shown if t and str(t).strip() not in device_names]
        problems += [f"{name}: raw identifier {t!r}" for t in texts if RAW_IDENTIFIER.search(t)]
        problems += [f"{name}: English {t!r}" for t in texts if ENGLISH_WORD.search(LATIN_ALLOWED.sub("", t))]
        if charts:
            ticks = " ".join(
                str(t)
                for t in page.eval_on_selector_all(".xtick text", "els => els.map((e) => e.textContent)")
            )
            if not re.search(r"\d+月", ticks):
                problems.append(f"{name}: date axis {ticks[:80]!r}")
        for selector in GLYPH_NODES:
            if page.locator(selector).count():
                drawn = _platform_fonts(page, selector)  # Latin digits may come from another font
                if not drawn & cjk:
                    problems.append(f"{name}: {selector} drawn with {drawn}, not a CJK font")
        if name == "devices":
            # A compressor delivering no air has no specific power: a grey state, not the red of a fault.
            no_air = page.eval_on_selector_all(
                ".pill[data-reason='no_air_delivery']", "els => els.map((e) => [e.className, e.innerText])"
            )
            wrong = [(c, t) for c, t in no_air if "bad" in c or t != "无意义：未供气"]
            problems += [f"devices: no-air pill {c!r} {t!r}" for c, t in wrong]
        page.screenshot(path=str(shots / f"demo-{name}-zh-checked.png"), full_page=True)
    assert problems == [], "\n".join(problems)
    assert watched.errors == []


@pytest.fixture(scope="module")
def device_names(demo_url: str) -> set[str]:
    import json

    deadline = time.monotonic() + 30
    while True:  # the banner may come a moment before the server answers
        try:
            with urllib.request.urlopen(demo_url + "/api/devices", timeout=30) as response:
                devices = json.load(response)["devices"]
            break
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return {d["device"] for d in devices} | {d["parent"] for d in devices if d.get("parent")}


@pytest.fixture(scope="module")
def protected_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = build_site(tmp_path_factory.mktemp("protected") / "history.sqlite")
    source = HistorySource(site.path, site.settings, clock=lambda: NOW)
    with serve_in_thread(create_app(source, token=TOKEN), TOKEN) as url:
        yield url


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("path", ["/", "/api/overview", "/api/openapi.json", "/metrics", "/static/app.js"])
def test_token_protected_dashboard_refuses_requests_without_the_token(protected_url: str, path: str) -> None:
    assert _status(protected_url + path) == 401
    assert _status(protected_url + path, {"Authorization": "Bearer wrong"}) == 401
    assert _status(protected_url + path, {"Authorization": f"Bearer {TOKEN}"}) == 200
    assert _status(protected_url + path, {"X-Energy-Agent-Token": TOKEN}) == 200


def test_browser_gets_in_only_with_the_token(browser: Browser, protected_url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    try:
        refused = page.goto(protected_url + "/")
        assert refused is not None
        assert refused.status == 401
        assert "access token required" in page.content()
        wrong = page.goto(protected_url + "/?token=guess")
        assert wrong is not None
        assert wrong.status == 401
        _open(page, protected_url + f"/?token={TOKEN}", PAGES["overview"][1])
        assert "token" not in page.url  # the cookie carries it, off the URL and the history
        assert page.locator("#kpi-today-energy .value").inner_text().endswith("kWh")
        _open(page, protected_url + "/savings", PAGES["savings"][1])  # later pages ride the cookie
    finally:
        context.close()
