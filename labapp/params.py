"""Validation of request parameters into plain, range-checked Python values.

A bad value becomes :class:`BadInput`, which the app turns into a 400 naming the field,
so a harness typo fails loudly instead of allocating something unintended.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any


class BadInput(ValueError):
    """A request parameter is missing its expected shape; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def json_body(raw: bytes) -> dict[str, Any]:
    """Decode a request body as a JSON object; an empty body means "all defaults"."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("body", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadInput("body", "request body must be a JSON object")
    return body


def _number(body: Mapping[str, Any], name: str, default: float, expected: str) -> float:
    """Fetch a finite JSON number; booleans are rejected even though bool is an int."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(name, f"{name} must be {expected}")
    if not math.isfinite(value):
        raise BadInput(name, f"{name} must be a finite number")
    return value


def _check_range(name: str, value: float, minimum: float, maximum: float) -> None:
    """Reject values outside ``[minimum, maximum]``."""
    if value < minimum:
        raise BadInput(name, f"{name} must be >= {minimum:g}")
    if value > maximum:
        raise BadInput(name, f"{name} must be <= {maximum:g}")


def int_field(body: Mapping[str, Any], name: str, default: int, *, minimum: int, maximum: int) -> int:
    """An integer in ``[minimum, maximum]``; integral floats such as ``16.0`` are accepted."""
    value = _number(body, name, default, "an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise BadInput(name, f"{name} must be an integer")
        value = int(value)
    _check_range(name, value, minimum, maximum)
    return int(value)


def float_field(body: Mapping[str, Any], name: str, default: float, *, minimum: float, maximum: float) -> float:
    """A number in ``[minimum, maximum]``."""
    value = _number(body, name, default, "a number")
    _check_range(name, value, minimum, maximum)
    return float(value)


def choice_field(body: Mapping[str, Any], name: str, default: str, choices: Collection[str]) -> str:
    """One of a fixed set of strings."""
    value = body.get(name, default)
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(sorted(choices))
        raise BadInput(name, f"{name} must be one of: {allowed}")
    return value
