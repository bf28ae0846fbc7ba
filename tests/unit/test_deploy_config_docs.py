"""docs/configuration.md is generated from the SiteConfig JSON Schema and never drifts from it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from agent.config.site import SiteConfig

ROOT = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_docs", ROOT / "scripts" / "gen_config_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def test_the_committed_reference_equals_the_generator_output() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == gen.render(), (
        "docs/configuration.md is stale: python scripts/gen_config_docs.py --write"
    )


def test_check_mode_passes_on_the_committed_file() -> None:
    assert gen.main(["--check"]) == 0


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    seen.add(model)
    for info in model.model_fields.values():
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in seen:
                _models(arg, seen)


def _flatten(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None)
    if not args:
        return [getattr(annotation, "__origin__", annotation)]
    return [item for arg in args for item in _flatten(arg)]


def test_every_field_of_every_config_model_has_a_row() -> None:
    text = gen.render()
    seen: set[type[BaseModel]] = set()
    _models(SiteConfig, seen)
    assert len(seen) >= 11  # site, area, three buses, device, sinks, mqtt, tls, influx, store, ...
    for model in seen:
        found = re.search(rf"\n## {model.__name__}( \([\w.]+\))?\n(.*?)(\n## |\Z)", text, re.S)
        assert found, f"no section for {model.__name__}"
        section = found.group(2)
        for name in model.model_fields:
            assert f"| `{name}` |" in section, f"{model.__name__}.{name} missing from the reference"


def test_rows_show_type_default_bounds_and_description() -> None:
    schema = {
        "title": "Root",
        "type": "object",
        "required": ["port"],
        "properties": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "TCP port."},
            "ratio": {
                "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}],
                "default": None,
            },
            "token": {"anyOf": [{"type": "string", "format": "password"}, {"type": "null"}], "default": None},
            "names": {"type": "array", "items": {"$ref": "#/$defs/Child"}, "default": []},
        },
        "$defs": {"Child": {"title": "Child", "type": "object", "properties": {"x": {"type": "string"}}}},
    }
    text = gen.render_schema(schema)
    assert "| `port` | integer | required | >= 1, <= 65535 | TCP port. |" in text
    assert "| `ratio` | number or null | `null` | > 0 |  |" in text
    assert "| `token` | secret string or null | `null` |  |  |" in text
    assert "| `names` | list of [Child](#child) | `[]` |  |  |" in text
    assert "**path:** `names[]`" in text
