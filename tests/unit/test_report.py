"""The M&V report: HTML with the statistics an auditor checks and the charts embedded; PDF via Chromium."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from agent.cli import web_cmds
from agent.errors import ConfigError
from agent.history.store import HistoryStore
from agent.report import find_chromium, parse_period, write_report
from agent.web import HistorySource
from tests.e2e.synthetic import NOW, SyntheticSite, build_site

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSite:
    return build_site(tmp_path_factory.mktemp("report") / "history.sqlite")


@pytest.fixture(scope="module")
def report_html(site: SyntheticSite, tmp_path_factory: pytest.TempPathFactory) -> str:
    source = HistorySource(site.path, site.settings, clock=lambda: NOW)
    files = write_report(source, "2025-09", tmp_path_factory.mktemp("out"), pdf=False)
    assert files.html.name == "report-synthetic-plant-2025-09.html"
    assert files.pdf is None
    return files.html.read_text(encoding="utf-8")


def test_report_states_method_and_model_statistics(report_html: str) -> None:
    for text in (
        "Option C",
        "3PC",
        "R2",
        "CV(RMSE)",
        "NMBE",
        "t-statistic",
        "Guideline 14",
        "2025-09-01 to 2025-09-30",
    ):
        assert text in report_html


def test_report_states_savings_uncertainty_and_factor_sources(report_html: str) -> None:
    for text in ("Fractional savings uncertainty", "68 %", "90 %", "GB/T 2589-2020", "0.5306", "CNY/kWh"):
        assert text in report_html
    assert "No non-routine adjustments." in report_html


def test_report_embeds_its_charts(report_html: str) -> None:
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report_html)
    assert len(images) == 3  # daily energy, baseline vs actual, cumulative savings with band
    assert all(len(image) > 5000 for image in images)
    assert "http://" not in report_html
    assert "https://" not in report_html


def test_report_balances_the_meter_tree_over_the_period(report_html: str) -> None:
    assert "Meter tree balance" in report_html
    assert "10.0 %" in report_html  # main: 10 % not metered below it


def test_report_shows_the_dashboards_compressed_air_figures_of_the_period(
    site: SyntheticSite, report_html: str
) -> None:
    source = HistorySource(site.path, site.settings, clock=lambda: NOW)
    room = source.compressors(first=date(2025, 9, 1), last=date(2025, 9, 30))["room"]
    leak = room["leak"]
    assert leak["m3_min"] == pytest.approx(0.3 * 6.0)  # comp-1 alone at night, loaded 30 % at 6 m3/min
    assert "<h2>Compressed air</h2>" in report_html
    assert f"{leak['m3_min']:.2f} m³/min ({leak['method']}; 90 %" in report_html
    assert f"{room['specific_power']:.2f} kW/(m³/min)" in report_html
    assert "no grade data" in report_html  # the synthetic site enters no GB 19153 limits


@pytest.mark.parametrize("text", ["2025-13", "25-01", "2025-1", "last month"])
def test_bad_period_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--period"):
        parse_period(text)


def test_whole_year_period() -> None:
    assert [d.isoformat() for d in parse_period("2024")] == ["2024-01-01", "2024-12-31"]


def _zh_font_names() -> set[str]:
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True)
    return {
        n.strip().replace(" ", "")
        for line in listed.stdout.splitlines()
        for n in line.split(",")
        if n.strip()
    }


def _pdf_fonts(reader: PdfReader) -> set[str]:
    """Base font names of every font the pages use (subset prefixes 'ABCDEF+' dropped)."""
    names = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.get_object().values():
            font = ref.get_object()
            base = font.get("/BaseFont") or font.get("/FontDescriptor", {}).get("/FontName", "/Type3")
            names.add(str(base).lstrip("/").split("+")[-1])
            for child in font.get("/DescendantFonts", []):
                names.add(str(child.get_object()["/BaseFont"]).lstrip("/").split("+")[-1])
    return names


def test_pdf_is_a4_and_carries_chinese_text_in_a_cjk_font(site: SyntheticSite, tmp_path: Path) -> None:
    """Issue 20: the PDF was US Letter and printed the Chinese site name as boxes."""
    assert find_chromium() is not None, "scripts/setup-services.sh installs chromium"
    cjk = _zh_font_names()
    assert cjk, "no CJK font: scripts/setup-services.sh installs fonts-wqy-microhei"
    named = replace(site.settings, mv=replace(site.settings.mv, display_name="重庆示例药厂"))
    source = HistorySource(site.path, named, clock=lambda: NOW)
    files = write_report(source, "2025-09", tmp_path)
    assert files.pdf is not None, files.note
    reader = PdfReader(files.pdf)
    for page in reader.pages:  # A4 is 595.28 x 841.89 pt
        assert float(page.mediabox.width) == pytest.approx(595.3, abs=1.0)
        assert float(page.mediabox.height) == pytest.approx(841.9, abs=1.0)
    text = "".join(page.extract_text() for page in reader.pages)
    assert "重庆示例药厂" in text
    assert "Option C" in text
    fonts = _pdf_fonts(reader)
    assert any(font.replace(" ", "") in cjk or any(f in font for f in cjk) for font in fonts), fonts


def test_report_command_over_a_site_config(
    site: SyntheticSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    web_cmds.add_parsers(parser.add_subparsers())
    config = REPO / "edge_configs" / "sites" / "example_site.yaml"
    # the example config's site meter is the root of its tree, main-meter: the history must hold it
    history = tmp_path / "history.db"
    shutil.copy(site.path, history)
    with HistoryStore(history) as store:
        store.write_energy_frame(site.energy[["main"]].rename(columns={"main": "main-meter"}), 900)
    args = parser.parse_args(
        [
            "report",
            str(config),
            "--period",
            "2025-09",
            "--out",
            str(tmp_path),
            "--history",
            str(history),
            "--baseline",
            "2025-01-01:2025-07-19",
            "--no-pdf",
            "--replay",
        ]
    )
    assert args.func(args) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written == tmp_path / "report-example-plant-2025-09.html"
    assert "Option C" in written.read_text(encoding="utf-8")


def test_report_command_without_history_names_the_missing_file(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    web_cmds.add_parsers(parser.add_subparsers())
    config = REPO / "edge_configs" / "sites" / "example_site.yaml"
    args = parser.parse_args(
        [
            "report",
            str(config),
            "--period",
            "2025-09",
            "--out",
            str(tmp_path),
            "--history",
            str(tmp_path / "none.sqlite"),
        ]
    )
    with pytest.raises(ConfigError, match="no history store"):
        args.func(args)


# ---------------------------------------------------------------- issue 20: -0, partial, empty periods


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (-0.3, 0, "0"),
        (-0.04, 1, "0.0"),
        (-0.0, 0, "0"),
        (-0.6, 0, "-1"),
        (-1234.5, 1, "-1,234.5"),
        (None, 0, "—"),
    ],
)
def test_numbers_never_print_minus_zero(value: float | None, digits: int, shown: str) -> None:
    from agent.report.build import _n, _pct

    assert _n(value, digits) == shown
    if value is not None:
        assert _pct(value / 100, digits) == f"{shown} %"


def test_a_balance_of_a_fraction_of_a_kwh_below_zero_prints_zero(site: SyntheticSite, tmp_path: Path) -> None:
    # sub-meters that sum to a hair more than their parent: the tree shows 0, never "-0" / "-0.0 %"
    history = tmp_path / "history.db"
    shutil.copy(site.path, history)
    with HistoryStore(history) as store:
        main = site.energy.loc[site.energy.index < NOW, "main"]
        store.write_energy_frame(
            pd.DataFrame({"line-1": main * 0.6, "air-room": main * 0.4 + 1e-6}, index=main.index), 900
        )
    source = HistorySource(history, site.settings, clock=lambda: NOW)
    page = write_report(source, "2025-09", tmp_path / "out", pdf=False).html.read_text(encoding="utf-8")
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert "-0" not in cells
    assert "-0.0 %" not in cells
    assert "0.0 %" in cells


def test_a_period_that_includes_today_says_its_per_unit_figures_are_partial(
    site: SyntheticSite, tmp_path: Path
) -> None:
    source = HistorySource(site.path, site.settings, clock=lambda: NOW)  # NOW = 2025-10-15 14:00
    october = write_report(source, "2025-10", tmp_path, pdf=False).html.read_text(encoding="utf-8")
    assert "id='partial-period'" in october
    assert "data through 2025-10-15T14:00" in october
    assert "not comparable with a whole one" in october
    september = write_report(source, "2025-09", tmp_path, pdf=False).html.read_text(encoding="utf-8")
    assert "partial-period" not in september


def test_a_period_without_data_exits_2_with_one_line_and_writes_nothing(
    site: SyntheticSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    web_cmds.add_parsers(parser.add_subparsers())
    config = REPO / "edge_configs" / "sites" / "example_site.yaml"
    history = tmp_path / "history.db"
    shutil.copy(site.path, history)
    out = tmp_path / "out"
    argv = ["report", str(config), "--period", "2023-03", "--out", str(out), "--history", str(history)]
    args = parser.parse_args([*argv, "--no-pdf"])
    assert args.func(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"report: no energy data between 2023-03-01 and 2023-03-31 (local days) in the history ({history}): "
        "nothing written"
    ]
    assert not out.exists()
