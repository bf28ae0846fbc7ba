"""Scenarios shared by the whole test session.

The simulator remembers the days it has simulated per Scenario object (simulators/site.py: the day
totals its counters start from). A factory served on the real clock must know every counter's value
now, so its first start simulates every day since the scenario's start: for `tiny` (2024-07-01) about
900 days, 10-25 s on a 2-core machine, and more each day. Loaded afresh in every test, `tiny` paid that
in each of the dozen tests that serve it on the real clock. `shared_scenario("tiny")` is one object for
the session: the first factory pays, the others start in milliseconds. Scenarios are frozen models, so
sharing one cannot leak a change from one test into another.
"""

from __future__ import annotations

import functools

from simulators.scenario import Scenario, load_scenario

__all__ = ["shared_scenario"]


@functools.cache
def shared_scenario(name: str) -> Scenario:
    """`load_scenario(name)`, loaded once per session."""
    return load_scenario(name)
