"""The one base of every config model, and the check that no value is silently coerced.

Pydantic's lax mode turns `interval_s: true` into 1.0, `unit_id: "1"` into 1 and `stopbits: true`
into 1, and accepts `.nan` and `.inf` for any float. In a config file each of these is a mistake
that would run: a wrong poll interval, a NaN scale publishing NaN as good. Full strict mode is not
an option (it refuses a YAML list for a tuple field and a string for an enum or a path), so:

- `StrictModel` forbids unknown keys and non-finite floats;
- `coercion_issues` walks the file's raw data along the models' fields and names every value that
  lax mode would coerce: a number field takes a number (never a bool or text), a bool field takes
  true/false, a literal of numbers never takes a bool. The loader reports each at its own line.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel", "coercion_issues"]

Path = tuple[str | int, ...]


class StrictModel(BaseModel):
    """Forbids unknown keys, freezes, refuses NaN and infinity in every float field."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def coercion_issues(model: type[BaseModel], data: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """(path, message) for every value in `data` that `model` would accept only by coercing it."""
    if not isinstance(data, dict):
        return
    for name, field in model.model_fields.items():
        if name in data:
            yield from _check(field.annotation, data[name], (*path, name), field.discriminator)


def _check(annotation: Any, value: Any, path: Path, discriminator: Any = None) -> Iterator[tuple[Path, str]]:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *meta = get_args(annotation)
        disc = next(
            (getattr(m, "discriminator", None) for m in meta if getattr(m, "discriminator", None)), None
        )
        yield from _check(inner, value, path, disc or discriminator)
    elif origin is Union or origin is types.UnionType:
        yield from _union(get_args(annotation), value, path, discriminator)
    elif origin is Literal:
        wanted = get_args(annotation)
        if isinstance(value, bool) and not any(isinstance(w, bool) for w in wanted):
            yield path, f"expected one of {', '.join(map(str, wanted))}, not a boolean"
    elif origin is tuple and isinstance(value, list):
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        for i, (item_type, item) in enumerate(zip(args, value, strict=False)):
            yield from _check(item_type, item, (*path, i))
    elif origin is dict and isinstance(value, dict) and len(get_args(annotation)) == 2:
        for key, item in value.items():
            yield from _check(get_args(annotation)[1], item, (*path, key))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from coercion_issues(annotation, value, path)
    else:
        problem = _scalar_problem(annotation, value)
        if problem is not None:
            yield path, problem


def _union(
    choices: tuple[Any, ...], value: Any, path: Path, discriminator: Any
) -> Iterator[tuple[Path, str]]:
    choices = tuple(c for c in choices if c is not type(None))
    if value is None or not choices:
        return
    if isinstance(discriminator, str) and isinstance(value, dict):
        for choice in choices:
            is_model = isinstance(choice, type) and issubclass(choice, BaseModel)
            field = choice.model_fields.get(discriminator) if is_model else None
            if field is not None and value.get(discriminator) in get_args(field.annotation):
                yield from coercion_issues(choice, value, path)
        return
    found = [list(_check(choice, value, path)) for choice in choices]
    if all(found):  # no choice takes the value as it is
        yield from found[0]


def _scalar_problem(annotation: Any, value: Any) -> str | None:
    if annotation is bool and not isinstance(value, bool):
        return "expected true or false"
    if annotation in (int, float):
        kind = "an integer" if annotation is int else "a number"
        if isinstance(value, bool):
            return f"expected {kind}, not a boolean (true/false)"
        if isinstance(value, str):
            return f"expected {kind}, not text (write it without quotes)"
    return None
