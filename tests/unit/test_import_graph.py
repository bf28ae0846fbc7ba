"""The package's import graph keeps its direction (docs/DESIGN: each arrow points one way):

- nothing in `agent/` below the CLI imports `agent.cli` (the CLI parses; the runtime composes);
- nothing in `agent/` imports `simulators` except the commands that run the simulated factory
  (`energy-agent demo`, `energy-agent simulate`) and the demo's own module.

Every import statement counts, also those inside functions and `if TYPE_CHECKING:` blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "agent"
SIMULATOR_USERS = {"agent/cli/demo_cmd.py", "agent/cli/simulate.py", "agent/demo.py"}


def imported_modules(text: str, package: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `text`, a module of `package`; relative imports
    resolved, and `from a import b` counted as both `a` and `a.b` (b may be a module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def package_of(path: Path) -> tuple[str, ...]:
    return path.relative_to(AGENT.parent).with_suffix("").parts[:-1]


def is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def sources() -> list[Path]:
    return sorted(AGENT.rglob("*.py"))


def violations(rule_package: str, allowed: set[str]) -> list[str]:
    found = []
    for path in sources():
        name = str(path.relative_to(AGENT.parent))
        if name in allowed:
            continue
        found.extend(
            f"{name}:{line} imports {module}"
            for line, module in imported_modules(path.read_text(encoding="utf-8"), package_of(path))
            if is_under(module, rule_package)
        )
    return found


def test_nothing_below_the_cli_imports_the_cli() -> None:
    cli = {str(p.relative_to(AGENT.parent)) for p in (AGENT / "cli").rglob("*.py")}
    assert violations("agent.cli", cli) == []


def test_only_the_simulator_commands_and_the_demo_import_simulators() -> None:
    assert violations("simulators", SIMULATOR_USERS) == []


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from agent.cli.run import serve_site\n", "agent.cli.run"),
        ("def f():\n    import agent.cli\n", "agent.cli"),
        ("from agent import cli\n", "agent.cli"),
        ("from ..cli import run\n", "agent.cli"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from simulators.server import X\n",
            "simulators",
        ),
    ],
)
def test_the_checker_sees_every_form_of_import(source: str, module: str) -> None:
    modules = [m for _, m in imported_modules(source, ("agent", "runtime"))]
    assert any(is_under(m, module) for m in modules), modules
