"""Structured log lines: `event=name key=value ...`, values quoted only when they need it."""

from __future__ import annotations

import logging

__all__ = ["log_event"]


def _format(value: object) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log_event(logger: logging.Logger, level: int, event: str, **fields: object) -> None:
    """Log one key=value line; fields that are None are left out."""
    if not logger.isEnabledFor(level):
        return
    parts = [f"event={event}"] + [f"{k}={_format(v)}" for k, v in fields.items() if v is not None]
    logger.log(level, " ".join(parts))
