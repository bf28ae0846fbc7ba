"""Fixtures shared by every test directory: expensive generated artefacts built once per session."""

from __future__ import annotations

import pytest

from tests.demo_year import DemoYears


@pytest.fixture(scope="session")
def demo_years(tmp_path_factory: pytest.TempPathFactory) -> DemoYears:
    """`demo_years.copy(today, days, dest)`: the re-dated demo factory's imported history, generated
    once per (today, days) in the session; each caller gets its own copy at `dest` (tests/demo_year.py)."""
    return DemoYears(tmp_path_factory.mktemp("demo-years"))
