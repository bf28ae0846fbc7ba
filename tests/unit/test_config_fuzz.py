"""Mutation fuzz of the shipped example sites: loading raises ConfigError and nothing else.

Each case takes one of edge_configs/sites/*.yaml and applies one to three random mutations, either to
the parsed data (delete, duplicate or retype a key; put a list, a mapping, a string, a huge integer
or a special float in place of a value) or to the text (an alias, a tag, a control character, a merge
key, deep brackets). Every issue of the ConfigError must carry the file and a line. The seed is fixed,
so a failure replays; the count is printed (`pytest -s`) for the issue note.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config.loader import load_config
from agent.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]
SITES = sorted((REPO / "edge_configs" / "sites").glob("*.yaml"))
SEED = 20261206
MUTATIONS = 250

SPECIAL_VALUES: list[Any] = [
    [],
    ["a", 1],
    {},
    {"k": 1},
    "",
    "text",
    "0.0.0.0",
    "${UNSET_VARIABLE}",
    10**40,
    -(10**18),
    0,
    -1,
    65536,
    True,
    None,
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    0.0,
    "2025-02-30",
    "1",
]


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*prefix, i))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _mutate_data(rng: random.Random, data: dict[str, Any]) -> None:
    path = rng.choice(_paths(data))
    parent, last = _parent(data, path), path[-1]
    action = rng.randrange(5)
    if action == 0:
        del parent[last]
    elif action == 1 and isinstance(parent, dict):
        parent[f"{last}_copy"] = parent[last]  # an unknown key
    elif action == 1:
        parent.append(parent[last])  # a duplicated list item (a duplicate name)
    elif action == 2:
        value = parent[last]
        parent[last] = str(value) if not isinstance(value, str) else [value]
    else:
        parent[last] = rng.choice(SPECIAL_VALUES)


TEXT_MUTATIONS: list[Callable[[str, random.Random], str]] = [
    lambda line, rng: line + " &anchor" if line.rstrip().endswith(":") else line,
    lambda line, rng: line.replace(": ", ": *undefined ", 1),
    lambda line, rng: line.replace(
        ": ", f": {rng.choice(['!!int', '!!float', '!!binary', '!foo', '!!set'])} ", 1
    ),
    lambda line, rng: line + rng.choice(["\x07", "\x00", "\x1b", "\ufeff", "\x85"]),
    lambda line, rng: line.replace(": ", ": " + "[" * rng.choice([40, 5000]), 1),
    lambda line, rng: (
        line + "\n" + " " * (len(line) - len(line.lstrip())) + "<<: " + rng.choice(["5", "[1]", "*x"])
    ),
    lambda line, rng: line.replace(": ", ": &self [*self, ", 1) + "]",
    lambda line, rng: "\t" + line,
    lambda line, rng: line[: rng.randrange(len(line) + 1)],
]


def _mutate_text(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    i = rng.randrange(len(lines))
    lines[i] = rng.choice(TEXT_MUTATIONS)(lines[i], rng)
    return "\n".join(lines) + "\n"


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False, width=10_000)


def test_mutated_example_sites_fail_only_by_config_error_with_file_and_line(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    originals = {site: yaml.safe_load(site.read_text(encoding="utf-8")) for site in SITES}
    path = tmp_path / "site.yaml"
    (tmp_path / "profiles").mkdir()  # example sites may name a project profiles directory
    outcomes = {"rejected": 0, "accepted": 0}
    for n in range(MUTATIONS):
        site = rng.choice(SITES)
        data = copy.deepcopy(originals[site])
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.6:
                _mutate_data(rng, data)
        text = _dump(data)
        if rng.random() < 0.5:
            text = _mutate_text(rng, text)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        issues = _load_issues(path, n, text)
        outcomes["accepted" if issues is None else "rejected"] += 1
        for issue in issues or ():
            assert issue.file == str(path), f"mutation {n}: {issue}"
            assert issue.line is not None, f"mutation {n}: no line in {issue}\n{text[:2000]}"
    print(f"config fuzz: {MUTATIONS} mutated files (seed {SEED}): {outcomes}")
    assert outcomes["rejected"] > MUTATIONS // 2  # the mutations do reach the checks


def _load_issues(path: Path, n: int, text: str) -> list[ConfigIssue] | None:
    """The issues of a rejected file, None for an accepted one; any other exception fails the test."""
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert exc.issues, f"mutation {n}: a ConfigError without issues"  # noqa: PT017
        return exc.issues
    except Exception as exc:  # the property under test: nothing but ConfigError
        pytest.fail(f"mutation {n} raised {type(exc).__name__}: {exc}\n--- file ---\n{text[:3000]}")
    return None
