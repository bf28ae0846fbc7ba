"""Libraries through their public API only: no `_private` member of a third-party object or module
is read, set or replaced anywhere under agent/ (DESIGN.md, "Rules that keep the house simple").

A static check over the AST of every agent/**/*.py. The rule, kept simple so it has no blind spots:
- `x._name` (not a dunder) is flagged unless `x` is `self` or `cls`. The few accesses of another
  agent object's private member are listed in ALLOWED with the reason; everything else is a finding.
- `getattr` / `setattr` / `delattr` / `hasattr` with a constant `"_name"` is the same access spelled
  differently and is flagged the same way.
- Importing a private name or a private module from outside the package (`from paho.mqtt import
  _packet`, `import influxdb_client.client._base`) is flagged; `agent.*` and relative imports are the
  project's own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "agent"

ALLOWED: dict[tuple[str, str], str] = {
    ("agent/modbus/decode.py", "c._little"): "c is a _NumericCodec, a class of the same module",
    ("agent/modbus/decode.py", "c._is_float"): "c is a _NumericCodec, a class of the same module",
}
"""(file relative to the repository, the expression as `ast.unparse` writes it) -> why it is ours."""

_REFLECTION = frozenset({"getattr", "setattr", "delattr", "hasattr"})


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_module(module: str | None, level: int) -> bool:
    return level > 0 or module == "agent" or (module or "").startswith("agent.")


def private_uses(source: str, filename: str = "<source>") -> Iterator[tuple[int, str]]:
    """(line, expression) for every use of a private member that is not on self/cls."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _REFLECTION:
            if len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value):
                    yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom) and not _own_module(node.module, node.level):
            parts = (node.module or "").split(".")
            if any(_private(part) for part in parts) or any(_private(a.name) for a in node.names):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not _own_module(alias.name, 0) and any(_private(p) for p in alias.name.split(".")):
                    yield node.lineno, ast.unparse(node)


def findings(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for path in sorted((root / "agent").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        uses = sorted(private_uses(path.read_text(encoding="utf-8"), relative))
        found += [f"{relative}:{line}: {text}" for line, text in uses if (relative, text) not in ALLOWED]
    return found


def test_no_private_member_of_a_library_is_used_under_agent() -> None:
    assert findings() == []


def test_every_allowed_exception_still_exists() -> None:
    # A stale entry would silently allow the same text somewhere it is not ours.
    present = {
        (path.relative_to(ROOT).as_posix(), expression)
        for path in AGENT.rglob("*.py")
        for _, expression in private_uses(path.read_text(encoding="utf-8"))
    }
    assert set(ALLOWED) <= present


@pytest.mark.parametrize(
    "source",
    [
        "paho = client._client",
        "client._client.on_publish = f",
        "paho._handle_pubackcomp = self._handle",
        "self.paho._sock.recv(1)",
        "x = self._router.paho._out_packet",
        "packet = self.paho._in_packet['packet']",
        "mid = paho._mid_generate()",
        "obj.__private = 1",
        "getattr(client, '_sock')",
        "setattr(paho, '_create_socket', factory)",
        "hasattr(sock, '_sslobj')",
        "from paho.mqtt import _packet",
        "from influxdb_client.client._base import _BaseWriteApi",
        "from paho.mqtt.client import _socketpair_compat",
        "import influxdb_client.client._base",
    ],
)
def test_the_check_finds_private_access(source: str) -> None:
    assert list(private_uses(source)), source


@pytest.mark.parametrize(
    "source",
    [
        "self._client = paho.Client()",
        "cls._cache.clear()",
        "x = obj.__class__.__name__",
        "client.on_publish = self._on_publish",
        "getattr(sock, 'pending', None)",
        "getattr(x, '__version__')",
        "from agent.modbus.decode import _compile",
        "from .payloads import _cache",
        "from paho.mqtt.client import Client",
        "import paho.mqtt.client as paho_mqtt",
    ],
)
def test_the_check_lets_public_and_own_access_pass(source: str) -> None:
    assert list(private_uses(source)) == [], source


def test_the_check_would_have_caught_the_paho_fast_paths(tmp_path: Path) -> None:
    # The MQTT sink before issue 17 replaced paho internals; the same code must fail the check.
    (tmp_path / "agent" / "sinks").mkdir(parents=True)
    (tmp_path / "agent" / "sinks" / "mqtt.py").write_text(
        "class _AckRouter:\n"
        "    def __init__(self, client):\n"
        "        self.paho = client._client\n"
        "    def install(self):\n"
        "        paho = self.paho\n"
        "        self._next = paho._handle_pubackcomp\n"
        "        paho._handle_pubackcomp = self._handle_pubackcomp\n"
        "        paho._packet_queue(0x30, b'', 1, 1, None)\n",
        encoding="utf-8",
    )
    assert findings(tmp_path) == [
        "agent/sinks/mqtt.py:3: client._client",
        "agent/sinks/mqtt.py:6: paho._handle_pubackcomp",
        "agent/sinks/mqtt.py:7: paho._handle_pubackcomp",
        "agent/sinks/mqtt.py:8: paho._packet_queue",
    ]


CLIENT_HOMES = {
    "paho": "agent/sinks/mqtt.py",
    "influxdb_client": "agent/sinks/influx.py",
    "urllib3": "agent/sinks/influx.py",  # influxdb-client's transport: its errors are caught there
    "aiomqtt": None,  # the tests' subscribers only
}


def imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_each_sink_client_library_is_imported_in_its_one_module() -> None:
    homes: dict[str, set[str]] = {library: set() for library in CLIENT_HOMES}
    for path in AGENT.rglob("*.py"):
        for library in imported_roots(path.read_text(encoding="utf-8")) & set(CLIENT_HOMES):
            homes[library].add(path.relative_to(ROOT).as_posix())
    assert homes == {library: {home} if home else set() for library, home in CLIENT_HOMES.items()}
