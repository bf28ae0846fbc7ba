"""YAML with positions: every value remembers the line it came from.

PyYAML forgets positions once it builds Python objects, and silently keeps the last of two equal
keys. This module walks the composed node tree itself so that (a) each field path maps to its line,
(b) duplicate keys are errors, and (c) `${ENV_VAR}` in a string is replaced from the environment,
with a missing variable reported at its line. Problems are collected, never raised one by one.

A config file is input from a person, so nothing in it may take the loader down: the size, the
number of values and the nesting are bounded on the event stream before anything is composed
(an "alias bomb" and 5,000 nested brackets are one error each), aliases are expanded by the walker
within the same bound, tags beyond plain YAML are refused, and a scalar that does not construct
(`2025-02-30`, `!!int abc`) is an issue at its line like any other.
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

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "LoadedYaml",
    "format_path",
    "load_yaml",
    "validation_issues",
]

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
    text = _read_text(path, result)
    if text is None:
        return result
    try:
        _check_shape(text)  # before composing: the composer recurses, and holds every node
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except _LimitExceeded as exc:
        result.issues.append(ConfigIssue(str(path), exc.line, exc.path, exc.message))
        return result
    except yaml.reader.ReaderError as exc:  # a control character
        if _Loader is yaml.SafeLoader:  # PyYAML counts characters, libyaml bytes
            at = text.count("\n", 0, exc.position) + 1
        else:
            at = text.encode("utf-8")[: exc.position].count(b"\n") + 1
        result.issues.append(ConfigIssue(str(path), at, "", _control_character(exc.character)))
        return result
    except yaml.MarkedYAMLError as exc:
        line = _line(exc.problem_mark or exc.context_mark)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        if "maximum nesting depth" in what:  # libyaml's own bound (1,000), met before ours
            result.issues.append(ConfigIssue(str(path), line, "", _too_deep(line).message))
        else:
            result.issues.append(ConfigIssue(str(path), line, "", f"YAML syntax error: {what}"))
        return result
    except yaml.YAMLError as exc:
        result.issues.append(ConfigIssue(str(path), None, "", f"YAML error: {exc}"))
        return result
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
        result.issues.append(ConfigIssue(str(path), 1, "", "the file is empty (no settings in it)"))
        return result
    walker = _Walker(result, os.environ if env is None else env, loader)
    try:
        result.data = walker.build(node, ())
    except _LimitExceeded as exc:
        result.data = None
        result.issues.append(ConfigIssue(str(path), exc.line, exc.path, exc.message))
    return result


def _line(mark: Any) -> int | None:
    return int(mark.line) + 1 if mark is not None else None


# libyaml's parser and composer when PyYAML has them (ten times faster), else PyYAML's own
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_shape(text: str) -> None:
    """Count nodes and nesting on the event stream (iterative, holds one event at a time)."""
    nodes = depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                raise _too_many_nodes(_line(event.start_mark))
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(_line(event.start_mark))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest config or profile file read (a 4,000-device site is about 0.5 MB)."""
MAX_NODES = 250_000
"""Most values (keys, scalars, lists, mappings) in a file, counted again at every alias use."""
MAX_DEPTH = 32
"""Deepest nesting of lists and mappings (a site config needs 6)."""

_MAX_DIGITS = 100  # no setting needs more; Python refuses to parse more than 4,300
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_KINDS = {
    _NULL: "null",
    "tag:yaml.org,2002:bool": "boolean",
    "tag:yaml.org,2002:int": "integer",
    "tag:yaml.org,2002:float": "number",
    _STR: "text",
    "tag:yaml.org,2002:timestamp": "date",
}


def _read_text(path: Path, result: LoadedYaml) -> str | None:
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        result.issues.append(ConfigIssue(str(path), None, "", f"cannot read file: {exc.strerror}"))
        return None
    if len(raw) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES // 1024**2} MiB"
        result.issues.append(
            ConfigIssue(str(path), 1, "", f"file is larger than {limit}, the limit of a config")
        )
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        result.issues.append(ConfigIssue(str(path), line, "", f"not UTF-8 text: {exc.reason}"))
        return None


def _control_character(code: int) -> str:
    return (
        f"control character U+{code:04X} is not allowed in YAML "
        "(remove it, or write it as an escape inside double quotes)"
    )


class _LimitExceeded(Exception):
    """The file is larger, deeper or expands further than a config may: parsing stops here."""

    def __init__(self, line: int | None, message: str, path: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.path = path


def _too_many_nodes(line: int | None) -> _LimitExceeded:
    return _LimitExceeded(
        line,
        f"more than {MAX_NODES:,} values (counting every use of an alias): "
        "the file is too large, or an alias expands too far",
    )


def _too_deep(line: int | None) -> _LimitExceeded:
    return _LimitExceeded(line, f"nested more than {MAX_DEPTH} levels deep")


class _Walker:
    """Builds plain data from the node tree, expanding aliases within the limits."""

    def __init__(self, out: LoadedYaml, env: Mapping[str, str], loader: Any) -> None:
        self.out = out
        self.env = env
        self.loader = loader
        self.visited = 0
        self.open: set[int] = set()  # nodes being built: meeting one again is an alias to itself
        self.built: set[int] = set()  # collections built once: meeting one again is an alias use
        self.alias_path: PathKey | None = None  # the outermost alias being expanded

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        line = self.out.lines.setdefault(path, node.start_mark.line + 1)
        self.visited += 1
        if self.visited > MAX_NODES:
            raise self._too_many(line)
        if len(self.open) >= MAX_DEPTH:
            raise _too_deep(line)
        if id(node) in self.open:
            self.out.issue(path, "an alias refers to the value that contains it (a loop)")
            return None
        outermost = self.alias_path is None and id(node) in self.built
        if outermost:
            self.alias_path = path
        self.open.add(id(node))
        try:
            return self._value(node, path)
        finally:
            self.open.discard(id(node))
            if outermost:
                self.alias_path = None

    def _value(self, node: yaml.Node, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            self.built.add(id(node))
            return self._mapping(node, path) if self._plain(node, _MAP, path) else None
        if isinstance(node, yaml.SequenceNode):
            self.built.add(id(node))
            if not self._plain(node, _SEQ, path):
                return None
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, path)

    def _too_many(self, line: int) -> _LimitExceeded:
        if self.alias_path is None:
            return _too_many_nodes(line)
        where = self.alias_path
        # a list item's recorded line is its anchor's; the alias itself sits in the parent list
        at = where if not where or isinstance(where[-1], str) else where[:-1]
        return _LimitExceeded(
            self.out.lines.get(at, line),
            f"expanding this alias takes the file past {MAX_NODES:,} values (an alias bomb?)",
            format_path(where),
        )

    def _plain(self, node: yaml.Node, tag: str, path: PathKey) -> bool:
        if node.tag != tag:
            self.out.issue(path, f"unsupported tag {node.tag!r} (a config uses plain YAML values)")
            return False
        return True

    def _scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        kind = _SCALAR_KINDS.get(node.tag)
        if kind is None:
            self.out.issue(path, f"unsupported tag {node.tag!r} (a config uses plain YAML values)")
            return None
        if node.tag == _STR and "${" in node.value:
            return self._substitute(node.value, path)
        if kind == "integer" and len(node.value) > _MAX_DIGITS:
            self.out.issue(path, f"integer is too large ({len(node.value):,} characters)")
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "..."
            detail = f" ({exc})" if kind == "date" else ""
            self.out.issue(path, f"not a valid {kind}: {shown!r}{detail}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges = [value for key, value in node.value if key.tag == _MERGE]
        for source in merges:  # `<<: *anchor`: first the merged keys, so the explicit ones win
            self._merge(source, path, result)
        written: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in written:
                first = self.out.lines.get(child)
                line = key_node.start_mark.line + 1
                message = f"duplicate key {key!r} (a key may appear once; first at line {first})"
                self.out.issues.append(ConfigIssue(self.out.file, line, format_path(child), message))
                continue
            written.add(key)
            self.out.lines[child] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, child)
        return result

    def _merge(self, source: yaml.Node, path: PathKey, into: dict[str, Any]) -> None:
        """YAML merge keys: a mapping, or a list of mappings where the earlier one wins."""
        sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
        merged: dict[str, Any] = {}
        for item in sources:
            if not isinstance(item, yaml.MappingNode):
                line = item.start_mark.line + 1
                message = "`<<` merges a mapping or a list of mappings (an alias like *defaults)"
                self.out.issues.append(ConfigIssue(self.out.file, line, format_path(path), message))
                continue
            built = self.build(item, path)
            if isinstance(built, dict):
                merged = {**built, **merged}
        into.update(merged)

    def _key(self, node: yaml.Node, path: PathKey) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            line = node.start_mark.line + 1
            message = "a key must be a plain word, not a list or a mapping"
            self.out.issues.append(ConfigIssue(self.out.file, line, format_path(path), message))
            return None
        return str(node.value)

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
    errors = error.errors(include_url=False)
    failed = {tuple(err["loc"]) for err in errors}
    issues = []
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(f[: len(loc)] == loc and f != loc for f in failed):
            continue  # "no items left" only because the items themselves failed: those are reported
        path = _real_path(loaded.data, prefix, loc)
        message = _MESSAGES.get(err["type"], err["msg"]).removeprefix("Value error, ")
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err and _is_scalar(err["input"]):
            message += f" (got {err['input']!r})"
        issue = ConfigIssue(loaded.file, loaded.line_of(path), format_path(path), message)
        issues.append(issue)
    return issues


# pydantic's wording speaks Python; a config is YAML
_MESSAGES = {
    "extra_forbidden": "unknown field (check the spelling and the indentation)",
    "missing": "required field is missing",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "finite_number": "expected a finite number (not .nan or .inf)",
}


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
