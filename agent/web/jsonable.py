"""Turn analytics results (numpy scalars, NaN, timestamps, dataclasses) into strict JSON values."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable", "jsonable_dict"]


def jsonable(value: Any) -> Any:
    """Recursively convert to JSON types; NaN and infinities become None (strict JSON has neither)."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return str(value)


def jsonable_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """`jsonable` for a mapping, typed as the dict it returns."""
    return {str(k): jsonable(v) for k, v in value.items()}
