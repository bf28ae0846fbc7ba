"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

The server runs in a thread on a free 127.0.0.1 port over the synthetic site. Screenshots go to
$ENERGY_AGENT_SCREENSHOTS (default: the test's temporary directory).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from agent.analytics.compressors import compressor_kpis, leak_estimate
from agent.config.analytics import CompressorSpec, GradeLimits
from agent.web import HistorySource, create_app
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, serve_in_thread
from tests.e2e.synthetic import NOW, build_site

RATING = {
    "grade": {"grade": "B", "gap_to_next": 4.5, "next_grade": "A"},
    "total": {"points": 75.5, "max_points": 100},
    "dimensions": [
        {
            "id": "energy",
            "name": {"zh": "能源与资源", "en": "Energy and resources"},
            "points": 30,
            "max_points": 40,
        }
    ],
    "indicators": [
        {
            "id": "eui",
            "name": {"zh": "单位产品能耗", "en": "Energy per unit"},
            "value": 0.93,
            "value_unit": "kWh/unit",
            "points": 8,
            "max_points": 10,
            "completeness": 1.0,
            "flags": [],
        },
        {
            "id": "yoy",
            "name": {"zh": "单位产品能耗同比降低率", "en": "Year-on-year reduction"},
            "value": 50.8,
            "value_unit": "%",
            "points": 0,
            "max_points": 5,
            "completeness": 0.0011,
            "flags": ["low_completeness"],
        },
    ],
    "provisional": True,
    "provisional_reasons": [
        {"code": "period_incomplete", "text": "period 2025 runs until 2025-12-31", "indicators": []},
        {"code": "low_completeness", "text": "data completeness below 90%", "indicators": ["yoy"]},
    ],
    "improvements": [
        {"indicator_id": "eui", "unit": "kWh/unit", "points_available": 2, "value_for_max": 0.85}
    ],
}


def _rating(period: str) -> Mapping[str, Any] | None:
    end = f"{int(period) + 1}-01-01"
    return {**RATING, "period": {"label": period, "start": f"{period}-01-01", "end": end}}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = build_site(tmp_path_factory.mktemp("e2e") / "history.sqlite")
    source = HistorySource(site.path, site.settings, rating=_rating, clock=lambda: NOW)
    with serve_in_thread(create_app(source, poll_seconds=1.0), None) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="en-US", accept_downloads=True
    )
    page = context.new_page()
    yield page
    context.close()


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("ENERGY_AGENT_SCREENSHOTS", str(tmp_path)))
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_overview_shows_the_numbers_the_api_returns(page: Page, base_url: str, tmp_path: Path) -> None:
    api = httpx.get(f"{base_url}/api/overview").json()
    page.goto(base_url + "/")
    value = page.locator("#kpi-today-energy .value")
    value.wait_for()
    assert float(value.get_attribute("data-value") or "nan") == pytest.approx(api["today"]["energy_kwh"])
    assert value.inner_text() == f"{round(api['today']['energy_kwh']):,} kWh"
    savings = page.locator("#kpi-savings-kwh .value")
    assert float(savings.get_attribute("data-value") or "nan") == pytest.approx(api["savings_to_date"]["kwh"])
    page.wait_for_selector("#chart-power .scatterlayer .trace")
    page.screenshot(path=str(_shots(tmp_path) / "overview-en.png"), full_page=True)


def test_switching_to_chinese_changes_labels_and_is_remembered(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    page.goto(base_url + "/")
    page.locator("#kpi-today-energy").wait_for()
    page.click("#lang-toggle")
    assert page.locator("nav a[data-nav=overview]").inner_text() == "总览"
    assert page.locator("#kpi-today-energy h3").inner_text() == "今日用电量"
    assert "万kWh" in page.locator("#kpi-month-energy .value").inner_text()  # a month is > 10^4 kWh
    page.reload()
    page.locator("#kpi-today-energy").wait_for()
    assert page.locator("#lang-toggle").inner_text() == "English"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.wait_for_selector("#chart-power .scatterlayer .trace")
    page.screenshot(path=str(_shots(tmp_path) / "overview-zh.png"), full_page=True)
    page.click("#lang-toggle")  # leave English for the next test


def test_savings_chart_renders_points_and_keeps_a_zoom_across_live_updates(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    page.goto(base_url + "/savings")
    page.wait_for_selector("#chart-cumulative .scatterlayer .trace")
    points = page.evaluate("document.getElementById('chart-cumulative').data[2].y.length")
    assert points > 60  # one per reporting day
    box = page.locator("#chart-cumulative .nsewdrag").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    zoomed = page.evaluate("document.getElementById('chart-cumulative').layout.xaxis.range")
    full = page.evaluate("document.getElementById('chart-cumulative')._fullLayout.xaxis.autorange")
    assert full is False
    page.wait_for_timeout(2500)  # two live polls at 1 s
    assert page.evaluate("document.getElementById('chart-cumulative').layout.xaxis.range") == zoomed
    page.screenshot(path=str(_shots(tmp_path) / "savings-zoomed.png"), full_page=True)


def test_rating_page_downloads_the_data_package(page: Page, base_url: str, tmp_path: Path) -> None:
    page.goto(base_url + "/rating")
    page.locator("#rating-grade").wait_for()
    assert page.locator("#rating-grade .grade").inner_text() == "B"
    with page.expect_download() as download_info:
        page.click("#rating-download")
    download = download_info.value
    assert download.suggested_filename == "rating-synthetic-plant-2025.json"
    package = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert package["grade"]["grade"] == "B"
    page.screenshot(path=str(_shots(tmp_path) / "rating.png"), full_page=True)


@pytest.mark.parametrize(
    ("lang", "notice", "flag"),
    [("en", "provisional", "low data · not scored"), ("zh-CN", "暂定", "数据不足 · 不计分")],
)
def test_rating_page_says_provisional_and_shows_low_completeness_unscored(
    page: Page, base_url: str, tmp_path: Path, lang: str, notice: str, flag: str
) -> None:
    page.add_init_script(f"window.localStorage.setItem('ea-lang', '{lang}')")
    page.goto(base_url + "/rating")
    box = page.locator("#rating-provisional")
    box.wait_for()
    assert box.locator("b").inner_text() == notice
    assert page.locator("#rating-provisional-badge").inner_text() == notice
    codes = box.locator("li").evaluate_all("items => items.map((li) => li.dataset.code)")
    assert codes == ["period_incomplete", "low_completeness"]
    low = box.locator("li[data-code=low_completeness]").inner_text()
    assert low.endswith("单位产品能耗同比降低率" if lang == "zh-CN" else "Year-on-year reduction")
    row = page.locator("tr", has=page.locator("[data-flag=low_completeness]"))
    assert row.locator("td").nth(2).inner_text() == "0.0 / 5.0"
    assert row.locator("[data-flag=low_completeness]").inner_text() == flag
    page.screenshot(path=str(_shots(tmp_path) / f"rating-provisional-{lang}.png"), full_page=True)


def test_every_device_trace_has_its_own_colour(page: Page, base_url: str) -> None:
    page.goto(base_url + "/devices")
    page.wait_for_selector("#chart-devices .scatterlayer .trace")
    colours = page.evaluate("document.getElementById('chart-devices').data.map((t) => t.line.color)")
    assert len(colours) >= 5
    assert len(set(colours)) == len(colours)


@pytest.mark.parametrize("path", ["/devices", "/air"])
def test_other_pages_render_without_errors(page: Page, base_url: str, tmp_path: Path, path: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base_url + path)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace")
    assert errors == []
    page.screenshot(path=str(_shots(tmp_path) / f"{path.strip('/')}.png"), full_page=True)


# Per chart: each trace's non-null points, the vertices of the lines plotly drew (SVG path commands),
# the y-axis titles and x tick labels as rendered in the SVG.
AIR_CHARTS_JS = """
(ids) => ids.map((id) => {
  const d = document.getElementById(id);
  const svg = Array.from(d.querySelectorAll(
    '.scatterlayer .trace path.js-line, .scatterlayer .trace path.js-fill'));
  return {
    id: id,
    points: (d.data || []).map((t) => (t.y || []).filter((v) => v !== null).length),
    drawn: svg.map((p) => ((p.getAttribute('d') || '').match(/[MLHV]/g) || []).length),
    ytitles: Array.from(d.querySelectorAll('.g-ytitle text, [class^="g-y"][class$="title"] text'))
      .map((n) => n.textContent),
    xticks: Array.from(d.querySelectorAll('.xtick text')).map((n) => n.textContent),
    legend: Array.from(d.querySelectorAll('.legendtext')).map((n) => n.textContent),
    notes: Array.from(d.querySelectorAll('.annotation-text')).map((n) => n.textContent),
  };
})
"""
AIR_CHART_IDS = ["chart-header", "chart-states", "chart-pressure", "chart-sp"]
# What may stay in Latin letters on the Chinese page: units, standards, device ids.
LATIN_ALLOWED = re.compile(r"kWh?|m³(/min)?|bar|GB 19153(-2019)?|comp-\d|[a-z]+(?:[._][a-z0-9]+)+")


def _air_charts(page: Page) -> dict[str, dict[str, Any]]:
    page.wait_for_selector("#content[data-ready]")
    page.wait_for_function(
        "(ids) => ids.every((id) => { const d = document.getElementById(id);"
        " return d && d.data && d.data.length && d.querySelector('.scatterlayer .trace'); })",
        arg=AIR_CHART_IDS,
    )
    charts: list[dict[str, Any]] = page.evaluate(AIR_CHARTS_JS, AIR_CHART_IDS)
    return {c["id"]: c for c in charts}


def _assert_air_charts_carry_data(charts: dict[str, dict[str, Any]]) -> None:
    header, states, pressure = charts["chart-header"], charts["chart-states"], charts["chart-pressure"]
    assert header["points"][:2] == [96, 96]  # mean and minimum, every 15 min over 24 h
    # the mean line as drawn turns at each top and bottom of its 7-interval cycle (plotly drops the
    # collinear vertices in between): 96 / 7 cycles x 2 turns
    assert max(header["drawn"]) >= 2 * 96 // 7
    assert states["points"] == [96] * 6  # 2 machines x loaded / unloaded / off
    assert all(n > 0 for n in states["drawn"])
    assert states["notes"] == ["comp-1", "comp-2"]
    assert sorted(pressure["points"]) == [48, 96]  # comp-2 runs only 08:00-20:00
    assert min(charts["chart-sp"]["points"]) > 0


def test_air_page_draws_pressure_timeline_and_units_in_both_languages(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base_url + "/air")
    charts = _air_charts(page)
    _assert_air_charts_carry_data(charts)
    assert charts["chart-header"]["ytitles"] == ["Pressure (bar)"]
    assert charts["chart-pressure"]["ytitles"] == ["Pressure (bar)"]
    assert charts["chart-states"]["ytitles"] == ["%", "%"]
    assert charts["chart-sp"]["ytitles"] == ["kW/(m³/min)"]
    assert {"minimum required", "band low", "band high"} <= set(charts["chart-header"]["legend"])
    assert any("Oct" in tick for tick in charts["chart-header"]["xticks"])
    note = page.locator("#air-header-note").inner_text()
    assert note == "header pressure transmitter · pressure band 6.50 – 7.20 bar"
    assert page.locator("#kpi-leak .value").inner_text().endswith("m³/min")
    leak = page.locator("#kpi-leak .sub").inner_text()
    assert "m³/min (90 %)" in leak
    assert "method: leak + base demand (no base demand declared)" in leak
    assert page.locator("td:nth-child(7)").first.inner_text().startswith("no grade data")
    states = page.locator("td .pill").evaluate_all("(ns) => ns.map((n) => n.dataset.state)")
    assert states == ["loaded", "unloaded"]
    grey = page.evaluate(
        "() => { const n = document.createElement('span'); n.className = 'pill air-off';"
        " document.body.append(n); const c = getComputedStyle(n).color; n.remove(); return c; }"
    )
    assert grey == "rgb(107, 119, 133)"  # a stopped machine is muted grey, not the red of a fault
    page.screenshot(path=str(_shots(tmp_path) / "air-en.png"), full_page=True)

    page.click("#lang-toggle")
    charts = _air_charts(page)
    _assert_air_charts_carry_data(charts)
    assert charts["chart-header"]["ytitles"] == ["压力（bar）"]
    assert charts["chart-states"]["ytitles"] == ["%", "%"]
    assert "最低需求压力" in charts["chart-header"]["legend"]
    ticks = charts["chart-header"]["xticks"]
    assert ticks
    assert all("月" in tick or ":" in tick for tick in ticks), ticks  # no "Oct 15" on the Chinese page
    texts: list[str] = page.locator(
        "#content h2, #content h3, #content th, #content td, #content .sub, #content li, #content option,"
        " #content label, #content .value, #content .legendtext, #content .g-ytitle, #content .xtick"
    ).evaluate_all("(nodes) => nodes.map((n) => n.textContent)")  # SVG text has no innerText
    english = [text for text in texts if re.search(r"[A-Za-z]{2,}", LATIN_ALLOWED.sub("", text))]
    assert english == [], f"untranslated on the Chinese air page: {english}"
    assert page.locator("#air-header-note").inner_text() == "总管压力变送器 · 压力带 6.50 – 7.20 bar"
    assert "方法：泄漏 + 基础用气" in page.locator("#kpi-leak .sub").inner_text()
    assert page.locator("td:nth-child(7)").first.inner_text().startswith("无能效等级数据")
    page.screenshot(path=str(_shots(tmp_path) / "air-zh.png"), full_page=True)
    page.click("#lang-toggle")  # leave English for the next test
    assert errors == []


def _analytics_phrases() -> list[str]:
    """What the compressed-air analytics say about machines and the leak, produced by the analytics."""
    index = pd.date_range("2025-10-01", periods=96, freq="15min", tz="UTC")

    def machine(loaded: float, running: float, kwh: float, air: float | None = None) -> pd.DataFrame:
        columns = {"kwh": kwh, "loaded_h": loaded, "running_h": running}
        return pd.DataFrame(columns | ({} if air is None else {"air_m3": air}), index=index)

    plain = CompressorSpec(device="c1", rated_power_kw=37, rated_fad_m3_min=6.0)
    limits = GradeLimits(grade_1=5.0, grade_2=6.0, grade_3=7.0, source="GB 19153-2019 表 2")
    graded = plain.model_copy(update={"grade_limits": limits})
    vsd = CompressorSpec(
        device="c2",
        rated_power_kw=37,
        rated_fad_m3_min=6.0,
        control="vsd",
        flow_curve=((10.0, 1.5), (20.0, 3.5), (37.0, 6.0)),
    )
    phrases: list[str | None] = []
    for data, spec in (
        (machine(0.0, 0.0, 0.0), plain),  # did not run
        (machine(0.01, 0.25, 2.0), plain),  # loaded 4 % of its running time
        (machine(0.2, 0.25, 8.0, air=1.0), graded),  # delivered little air: not graded
        (machine(0.2, 0.25, 8.0), graded),  # graded
        (machine(0.2, 0.25, 6.0), vsd),  # air from the power-to-flow curve
    ):
        kpis = compressor_kpis(data, spec)
        phrases += [kpis.specific_power_note, kpis.grade_note, kpis.air_method]
    air = pd.Series(60.0, index=index)
    for idle, base, flows in (
        (None, None, air),
        (pd.Series(False, index=index), 1.0, air),
        (pd.Series(index.hour == 0, index=index) & (index.minute < 30), None, air),
        (pd.Series(True, index=index), None, air * 0),
        (pd.Series(True, index=index), None, air),
    ):
        leak = leak_estimate(flows, idle, base_demand_m3_min=base, interval_h=0.25)
        phrases += [leak.reason, leak.method]
    return sorted({p for p in phrases if p})


def test_the_analytics_phrases_read_in_chinese(page: Page, base_url: str) -> None:
    phrases = _analytics_phrases()
    assert len(phrases) >= 10  # every kind of note, reason and method above
    page.goto(base_url + "/static/i18n.js")  # the page's own strings, without drawing a page
    page.add_script_tag(url=base_url + "/static/i18n.js")
    chinese: list[str] = page.evaluate(
        "(xs) => { I18N.lang = 'zh-CN'; const out = xs.map((x) => I18N.phrase(x));"
        " I18N.lang = 'en'; return out; }",
        phrases,
    )
    untranslated = [
        (en, zh)
        for en, zh in zip(phrases, chinese, strict=True)
        if re.search(r"[A-Za-z]{2,}", LATIN_ALLOWED.sub("", zh))
    ]
    assert untranslated == []


def test_eui_today_carries_a_partial_day_caveat(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    badge = page.locator("#kpi-eui-today #eui-partial-day")
    badge.wait_for()
    assert badge.inner_text() == "partial day 14.0 / 24 h"  # the synthetic site's now is 14:00
    assert "not comparable with a whole day" in page.locator("#kpi-eui-today .sub").inner_text()


def test_devices_page_over_an_empty_history_says_no_data_yet(
    browser: Browser, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from agent.history.store import HistoryStore

    site = build_site(tmp_path_factory.mktemp("e2e-empty") / "history.sqlite")
    empty = tmp_path / "history.db"
    with HistoryStore(empty):
        pass
    with serve_in_thread(create_app(HistorySource(empty, site.settings, clock=lambda: NOW)), None) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/devices")
        note = page.locator("#chart-devices .no-data")
        note.wait_for()
        assert note.inner_text().startswith("No data yet")
        assert page.locator("#chart-devices .xtick").count() == 0  # no axis running over the year 2000
        assert errors == []
        page.screenshot(path=str(_shots(tmp_path) / "devices-empty.png"), full_page=True)
        context.close()
