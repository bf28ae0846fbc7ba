"""The control page's API (`GET /api/control`), its navigation entry and its strings in both languages.

The live state is a plain fake (tests/e2e/control_fake.py) whose decisions the real sequencer made
and schemas/mqtt/control.schema.json validated. The history is an empty store: the control page
reads nothing from it.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
import yaml

from agent.config.control import ControlConfig
from agent.history.store import HistoryStore
from agent.web import HistorySource, LiveState, create_app
from tests.e2e.control_fake import ControlLive, PlainLive, dry_run_status
from tests.e2e.synthetic import NOW, settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's test client warns about its own httpx transport
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "agent" / "web" / "static"
SCHEMA = json.loads((ROOT / "schemas" / "mqtt" / "control.schema.json").read_text(encoding="utf-8"))
NAV_LINK = 'href="/control" data-nav="control"'


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("control") / "history.sqlite"
    with HistoryStore(path):
        pass
    return path


def _client(history: Path, live: LiveState | None) -> TestClient:
    return TestClient(create_app(HistorySource(history, settings(), live=live, clock=lambda: NOW)))


def test_the_api_returns_the_live_control_status_as_the_runtime_gives_it(history: Path) -> None:
    status = dry_run_status()
    body = _client(history, ControlLive(status)).get("/api/control").json()
    assert body == json.loads(json.dumps(status))
    room = body["rooms"][0]
    assert [d["ts"] for d in room["decisions"]] == sorted((d["ts"] for d in room["decisions"]), reverse=True)
    assert [a["code"] for a in room["alarms"]] == ["machine_local", "pressure_low"]
    assert all(not c["written"] for d in room["decisions"] for c in d["commands"])  # dry-run writes nothing


@pytest.mark.parametrize(
    "live",
    [None, PlainLive(), ControlLive(None)],
    ids=["no live state", "live state without control", "control absent or off"],
)
def test_a_site_without_control_answers_mode_off_with_no_rooms(history: Path, live: LiveState | None) -> None:
    response = _client(history, live).get("/api/control")
    assert response.status_code == 200
    assert response.json() == {"mode": "off", "rooms": []}


def test_the_navigation_offers_control_only_while_it_runs(history: Path) -> None:
    live = ControlLive(dry_run_status())
    client = _client(history, live)
    assert NAV_LINK in client.get("/").text
    live.status = None  # control switched off: the tab goes, the page stays and explains
    assert NAV_LINK not in client.get("/").text
    assert NAV_LINK not in _client(history, PlainLive()).get("/savings").text
    page = client.get("/control")
    assert page.status_code == 200
    assert 'data-page="control"' in page.text
    assert NAV_LINK in page.text  # its own tab, marked active


def test_every_page_carries_the_site_timezone_for_local_times(history: Path) -> None:
    html = _client(history, None).get("/control").text
    assert 'data-tz="Asia/Shanghai"' in html
    assert "{{" not in html


def _strings(lang: str) -> dict[str, str]:
    """One language's table of agent/web/static/i18n.js, read as the browser does (JSON-like keys)."""
    text = (STATIC / "i18n.js").read_text(encoding="utf-8")
    start = text.index("  en: {" if lang == "en" else '  "zh-CN": {')
    end = text.index('  "zh-CN": {') if lang == "en" else text.index("\n};", start)
    return dict(re.findall(r'"([\w.-]+)": "((?:[^"\\]|\\.)*)"', text[start:end]))


def _control_keys() -> set[str]:
    """Every string key the control page uses: literal ones, and those built from the schema's enums."""
    app = (STATIC / "app.js").read_text(encoding="utf-8")
    literal = set(re.findall(r'"(ctl\.[\w.-]+)"', app))
    codes = SCHEMA["properties"]["alarms"]["items"]["properties"]["code"]["enum"]
    modes = ["off", *SCHEMA["properties"]["mode"]["enum"]]
    built = {f"ctl.alarm.{c}" for c in codes} | {f"ctl.mode.{m}" for m in modes}
    built |= {f"ctl.mode_note.{m}" for m in modes}
    return (literal - {"ctl.alarm.", "ctl.mode.", "ctl.mode_note."}) | built | {"nav.control"}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_control_string_exists_in_both_languages(lang: str) -> None:
    strings = _strings(lang)
    keys = _control_keys()
    assert len(keys) > 40
    missing = sorted(k for k in keys if not strings.get(k))
    assert missing == []
    if lang == "zh-CN":
        latin = {k: v for k in keys if re.search(r"[A-Za-z]{2,}", _config_words(v := strings[k]))}
        assert latin == {}


def _config_words(text: str) -> str:
    """What may stay Latin in a Chinese string: config keys and values, units."""
    return re.sub(r"writes_enabled: true|dry-run|control|bar|m³/min|\{s\}", "", text)


def test_the_nothing_is_written_notice_is_plain_in_advise_and_dry_run() -> None:
    written = (("en", "Nothing is written to the compressors."), ("zh-CN", "不向空压机写入任何命令。"))
    for lang, phrase in written:
        strings = _strings(lang)
        for mode in ("advise", "dry-run"):
            assert strings[f"ctl.mode_note.{mode}"].endswith(phrase)


def test_the_config_the_page_offers_to_start_from_is_a_valid_control_section() -> None:
    app = (STATIC / "app.js").read_text(encoding="utf-8")
    start = app.index("const CONTROL_SNIPPET =")
    pieces = re.findall(r'"((?:[^"\\]|\\.)*)"', app[start : app.index(";", start)])
    snippet = yaml.safe_load("".join(json.loads(f'"{p}"') for p in pieces))
    control = ControlConfig.model_validate(snippet["control"])
    assert control.mode == "dry-run"  # nothing is written while the site tries it
    assert [r.name for r in control.rooms] == ["main"]
