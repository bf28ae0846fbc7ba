"""Errors of the analytics: data that cannot support a result.

AgentError (agent.errors)
└── AnalyticsError           (also a ValueError: the input values are the problem)
    └── InsufficientData     too few points, too little coverage, no variation to fit
"""

from __future__ import annotations

from agent.errors import AgentError

__all__ = ["AnalyticsError", "InsufficientData"]


class AnalyticsError(AgentError, ValueError):
    """Analytics input is unusable; the message names the series, period or field."""


class InsufficientData(AnalyticsError):
    """The data does not qualify for the requested estimate (eemeter-style disqualification)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
