"""YAML with positions: every value remembers the line it came from.

PyYAML forgets positions once it builds Python objects, and silently keeps the last of two equal
keys. This module walks the composed node tree itself so that (a) each field path maps to its line,
(b) duplicate keys are errors, and (c) `${ENV_VAR}` in a string is replaced from the environment,
with a missing variable reported at its line. Problems are collected, never raised one by one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.errors import ConfigIssue

__all__ = ["LoadedYaml", "format_path", "load_yaml", "validation_issues"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

PathKey = tuple[str | int, ...]


@dataclass
class LoadedYaml:
    """A parsed file: its data, the line of every path in it, and the problems found."""

    file: str
    data: Any = None
    lines: dict[PathKey, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the longest prefix of `path` that exists in the file."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def issue(self, path: Sequence[str | int], message: str) -> ConfigIssue:
        found = ConfigIssue(self.file, self.line_of(path), format_path(path), message)
        self.issues.append(found)
        return found


def format_path(path: Sequence[str | int]) -> str:
    """('devices', 3, 'unit_id') -> 'devices[3].unit_id'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(path: Path, env: Mapping[str, str] | None = None) -> LoadedYaml:
    """Parse `path`. Never raises for bad content: problems are in `.issues`."""
    result = LoadedYaml(file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        result.issues.append(ConfigIssue(str(path), None, "", f"cannot read file: {exc.strerror}"))
        return result
    except UnicodeDecodeError as exc:
        result.issues.append(ConfigIssue(str(path), None, "", f"not UTF-8 text: {exc.reason}"))
        return result
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        result.issues.append(ConfigIssue(str(path), line, "", f"YAML syntax error: {what}"))
        return result
    except yaml.YAMLError as exc:
        result.issues.append(ConfigIssue(str(path), None, "", f"YAML error: {exc}"))
        return result
    finally:
        loader.dispose()
    if node is None:
        result.issues.append(ConfigIssue(str(path), 1, "", "the file is empty"))
        return result
    walker = _Walker(result, os.environ if env is None else env, loader)
    result.data = walker.build(node, ())
    return result


class _Walker:
    def __init__(self, out: LoadedYaml, env: Mapping[str, str], loader: yaml.SafeLoader) -> None:
        self.out = out
        self.env = env
        self.loader = loader

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.out.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:str" and "${" in node.value:
            return self._substitute(node.value, path)
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in result:
                first = self.out.lines.get(child)
                line = key_node.start_mark.line + 1
                message = f"duplicate key {key!r} (a key may appear once; first at line {first})"
                self.out.issues.append(ConfigIssue(self.out.file, line, format_path(child), message))
                continue
            result[key] = self.build(value_node, child)
            self.out.lines[child] = key_node.start_mark.line + 1
        return result

    def _substitute(self, text: str, path: PathKey) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.out.issue(path, f"environment variable {name} is not set (referenced as ${{{name}}})")
            return ""

        return _ENV.sub(replace, text)


def validation_issues(loaded: LoadedYaml, error: ValidationError, prefix: PathKey = ()) -> list[ConfigIssue]:
    """Turn pydantic's errors into issues with file:line and a path as written in the file.

    Pydantic puts union tags ('tcp', 'float32') and validator names into `loc`; those are not keys of
    the file, so they are dropped by following the loc through the data itself.
    """
    issues = []
    for err in error.errors(include_url=False):
        path = _real_path(loaded.data, prefix, err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field (check the spelling and the indentation)"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err and _is_scalar(err["input"]):
            message += f" (got {err['input']!r})"
        issue = ConfigIssue(loaded.file, loaded.line_of(path), format_path(path), message)
        issues.append(issue)
    return issues


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) < 60


def _real_path(data: Any, prefix: PathKey, loc: Sequence[str | int]) -> PathKey:
    node = data
    for part in prefix:
        node = _child(node, part)
    path: list[str | int] = list(prefix)
    for part in loc:
        child = _child(node, part)
        if child is not _ABSENT:
            path.append(part)
            node = child
        elif isinstance(node, dict) and part not in node and isinstance(part, str) and _is_field_name(part):
            path.append(part)  # a missing field: name it, its line is the parent's
            node = None
    return tuple(path)


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _is_field_name(part: str) -> bool:
    return re.fullmatch(r"[a-z_][a-z0-9_]*", part) is not None and part not in _UNION_TAGS


# discriminator values pydantic inserts into `loc` for tagged unions
_UNION_TAGS = frozenset(
    {"tcp", "rtu", "rtu_over_tcp", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
    | {"float32", "float64", "bool", "bits", "string"}
)
