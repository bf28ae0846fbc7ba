"""Scenarios for factories served on the real clock.

A factory on the real clock must know every counter's value now, so its first start simulates every
day from the scenario's start to today: for the shipped `tiny` (start 2024-07-01) about 900 days, 11 s
of CPU, more each day, and it was paid again by each of the dozen tests that loaded `tiny` afresh (the
simulator remembers simulated days per Scenario object, simulators/site.py). `live_scenario("tiny")` is
the same factory re-dated the way `energy-agent demo` re-dates its own (agent/demo.py `demo_scenario`):
it starts a week before today, its retrofit moved by as many days (so it is in force now, as it is for
the shipped dates), and it is one object for the session: the week is simulated once.
Tests that pin a time near the shipped start (FixedClock, AcceleratedClock) use `shipped_scenario`:
the shipped dates, one object per session, so the days they simulate are simulated once, not per module.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from simulators.scenario import Scenario, load_scenario

__all__ = ["live_scenario", "shipped_scenario"]

LEAD_DAYS = 7


@functools.cache
def live_scenario(name: str) -> Scenario:
    """`load_scenario(name)` starting LEAD_DAYS before today; loaded once per session."""
    base = shipped_scenario(name)
    today = datetime.now(base.start.tzinfo).date()
    shift = today - timedelta(days=LEAD_DAYS) - base.start.date()
    update: dict[str, Any] = {"start": base.start + shift}
    if base.retrofit is not None:
        update["retrofit"] = base.retrofit.model_copy(update={"date": base.retrofit.date + shift})
    return base.model_copy(update=update)


@functools.cache
def shipped_scenario(name: str) -> Scenario:
    """`load_scenario(name)` as shipped, loaded once per session (frozen: nobody can change it)."""
    return load_scenario(name)
