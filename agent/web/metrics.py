"""Prometheus text exposition (format 0.0.4) of `MetricSample`s: no client library needed for a page."""

from __future__ import annotations

import math
from collections.abc import Iterable

from agent.web.source import MetricSample

__all__ = ["render_metrics"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render_metrics(samples: Iterable[MetricSample]) -> str:
    """HELP and TYPE once per metric name, then one line per sample; samples of a name kept together."""
    by_name: dict[str, list[MetricSample]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, []).append(sample)
    lines = []
    for name, group in by_name.items():
        lines.append(f"# HELP {name} {_escape(group[0].help)}")
        lines.append(f"# TYPE {name} {group[0].kind}")
        for sample in group:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
            lines.append(
                f"{name}{{{labels}}} {_number(sample.value)}" if labels else f"{name} {_number(sample.value)}"
            )
    return "\n".join(lines) + "\n"
