"""`energy-agent savings`: the dashboard's savings on the terminal, with the same numbers.

The synthetic site (tests/e2e/synthetic.py) cuts every meter by exactly 10 % after 2025-07-19; its
main meter is stored under the example site's name `main-meter` so that the shipped example config
finds it as the root of its meter tree.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import pytest

from agent.cli import savings_cmd
from agent.config.loader import load_config
from agent.history.store import HistoryStore
from agent.web.history_source import HistorySource
from agent.web.settings import settings_for
from tests.e2e.synthetic import BASELINE_END, REDUCTION, REPORTING_START, SyntheticSite, build_site

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "edge_configs" / "sites" / "example_site.yaml"
BASELINE = f"2025-01-01:{BASELINE_END}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSite:
    built = build_site(tmp_path_factory.mktemp("savings-cli") / "history.db")
    with HistoryStore(built.path) as store:
        store.write_energy_frame(built.energy[["main"]].rename(columns={"main": "main-meter"}), 900)
    return built


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    savings_cmd.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["savings", *argv])
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def dashboard(site: SyntheticSite, start: date | None = None, end: date | None = None) -> dict[str, object]:
    """The dashboard's savings over the same config (its site meter: the tree's root, main-meter)."""
    settings = settings_for(
        load_config(CONFIG).config, baseline=(date(2025, 1, 1), BASELINE_END), replay=True
    )
    return HistorySource(site.path, settings).savings(start, end)


def test_json_equals_the_dashboard_savings(site: SyntheticSite, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(CONFIG), "--history", str(site.path), "--baseline", BASELINE, "--replay", "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert json.loads(out) == json.loads(json.dumps(dashboard(site)))


def test_summary_prints_model_statistics_verdict_and_value(
    site: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    reporting = "2025-08-01:2025-08-31"
    argv = [str(CONFIG), "--history", str(site.path), "--baseline", BASELINE, "--reporting", reporting]
    code, out, _ = run([*argv, "--replay"], capsys)
    expected = dashboard(site, date(2025, 8, 1), date(2025, 8, 31))
    assert code == 0
    assert "reporting 2025-08-01 .. 2025-08-31" in out
    assert f"IPMVP Option C, daily {expected['baseline']['kind']}" in out  # type: ignore[index]
    for label in ("R2 ", "CV(RMSE) ", "NMBE ", "t-stats    intercept", "G14        baseline PASSED"):
        assert label in out
    kind = expected["baseline"]["kind"]  # type: ignore[index]
    family = "daily data: change-point family (1P-5P, production as an extra regressor)"
    assert f"why        {family}; {kind} has the highest adjusted R2" in out
    assert expected["baseline"]["choice_reason"].startswith("daily data: ")  # type: ignore[index]
    assert f"savings    {expected['savings_kwh']:,.0f} kWh" in out
    assert f"+/- {expected['uncertainty'][1]['absolute_kwh']:,.0f} kWh at 90%" in out  # type: ignore[index]
    for unit in (" yuan at ", " tce, ", " tCO2"):
        assert unit in out
    site_line = f"site       main-meter: {expected['site']['energy_kwh']:,.0f} kWh measured"  # type: ignore[index]
    assert site_line in out


def test_savings_of_the_synthetic_retrofit_are_its_known_ten_percent(
    site: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(CONFIG), "--history", str(site.path), "--baseline", BASELINE, "--replay", "--json"]
    result = json.loads(run(argv, capsys)[1])
    assert result["reporting"]["start"] == REPORTING_START.isoformat()
    # actual = 0.9 x (model x noise): savings / adjusted baseline is 10 % up to the 2 % daily noise
    assert result["fraction"] == pytest.approx(REDUCTION, abs=0.01)
    assert result["meets_guideline_14"] is True


@pytest.mark.parametrize(
    "option",
    [
        ["--baseline", "2025-01-01"],
        ["--baseline", "2025-07-19:2025-01-01"],
        ["--reporting", "2025-13-01:2025-14-01"],
    ],
)
def test_malformed_window_is_bad_input(
    site: SyntheticSite, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    code, _, err = run([str(CONFIG), "--history", str(site.path), *option], capsys)
    assert code == 1
    assert option[0] in err


def test_missing_config_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([str(tmp_path / "absent.yaml")], capsys)
    assert code == 1
    assert "absent.yaml" in err


def test_missing_history_is_not_enough_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([str(CONFIG), "--history", str(tmp_path / "none.db")], capsys)
    assert code == 2
    assert "none.db" in err


def test_too_short_a_baseline_is_not_enough_data(
    site: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        [str(CONFIG), "--history", str(site.path), "--baseline", "2025-01-01:2025-01-20"], capsys
    )
    assert code == 2
    assert "baseline" in err


def test_reporting_window_without_data_is_not_enough_data(
    site: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        str(CONFIG),
        "--history",
        str(site.path),
        "--baseline",
        BASELINE,
        "--reporting",
        "2024-01-01:2024-01-31",
    ]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.startswith("error: ")


def test_a_baseline_that_fails_its_verdict_exits_2_not_verified(
    site: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    """A baseline window straddling the 10 % cut: the savings uncertainty fails Guideline 14's 50 %."""
    argv = [str(CONFIG), "--history", str(site.path), "--baseline", "2025-05-01:2025-08-15"]
    argv += ["--reporting", "2025-08-16:2025-08-31", "--replay"]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: savings not verified: savings uncertainty")
    savings_line = next(line for line in out.splitlines() if line.startswith("savings"))
    assert savings_line.startswith("savings    NOT VERIFIED: ")
    code, out, _ = run([*argv, "--json"], capsys)
    assert code == 2
    assert json.loads(out)["verdict"]["passed"] is False
