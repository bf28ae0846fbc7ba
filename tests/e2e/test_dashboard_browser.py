"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

The server runs in a thread on a free 127.0.0.1 port over the synthetic site. Screenshots go to
$ENERGY_AGENT_SCREENSHOTS (default: the test's temporary directory).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

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
        }
    ],
    "improvements": [
        {"indicator_id": "eui", "unit": "kWh/unit", "points_available": 2, "value_for_max": 0.85}
    ],
}


def _rating(period: str) -> Mapping[str, Any] | None:
    return {**RATING, "period": {"label": period}}


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


@pytest.mark.parametrize("path", ["/devices", "/air"])
def test_other_pages_render_without_errors(page: Page, base_url: str, tmp_path: Path, path: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base_url + path)
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace")
    assert errors == []
    page.screenshot(path=str(_shots(tmp_path) / f"{path.strip('/')}.png"), full_page=True)
