"""The building blocks of the scenario models: source and verdict names, the field types
(sizes, durations, time-outs, paths, methods, JSON bodies) and the frozen base model
that reports unknown keys with a suggestion."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    model_validator,
)

from harness.scenario.units import parse_duration, parse_size, quote_value
from harness.units import MIB

#: A signal source's id: one of :data:`harness.sources.SOURCES`, checked where the scenario
#: names one (``expect.sources``), against the list as declared when the file is read.
SourceId = str
Verdict = Literal["visible", "partial", "gap", "misleading", "unavailable", "none"]

VERDICTS: tuple[Verdict, ...] = get_args(Verdict)

LAB_IMAGE = "labapp"
MIN_MEMORY = 6 * MIB  # Docker refuses a smaller --memory.
MAX_TIMEOUT = 3600.0


def quoted(values: Iterable[object]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def _seconds(value: float) -> str:
    return f"{value:g}s"


# ---------------------------------------------------------------------------------------
# Field types


def seconds_within(
    minimum: float, maximum: float, *, allow_minimum: bool = True
) -> AfterValidator:
    """A range check for durations whose message speaks in seconds, not raw floats."""

    if allow_minimum:
        rule = f"between {_seconds(minimum)} and {_seconds(maximum)}"
    else:
        rule = f"more than {_seconds(minimum)} and at most {_seconds(maximum)}"

    def check(value: float) -> float:
        above_minimum = value >= minimum if allow_minimum else value > minimum
        if not above_minimum or value > maximum:
            raise ValueError(f"must be {rule}, got {_seconds(value)}")
        return value

    return AfterValidator(check)


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Let None through a parser, for optional sizes."""
    return lambda value: None if value is None else parse(value)


def _starts_with_slash(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f'{quote_value(value)} must start with "/"')
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _json_body(value: Any) -> dict[str, Any] | list[Any] | None:
    """Accept a JSON object or array that will survive ``json.dumps`` at run time.

    YAML can produce values JSON cannot carry (dates, sets, non-string keys), and finding
    that out mid-run would waste a container start.
    """
    if value is None:
        return None
    if not isinstance(value, (dict, list)):
        raise ValueError(f"must be a JSON object or array, got {quote_value(value)}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"is not JSON: {exc}") from None
    return value


Size = Annotated[int, BeforeValidator(parse_size)]
OptionalSize = Annotated[int | None, BeforeValidator(_optional(parse_size))]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Timeout = Annotated[Duration, seconds_within(0.0, MAX_TIMEOUT, allow_minimum=False)]
SleepDuration = Annotated[Duration, seconds_within(0.0, MAX_TIMEOUT)]
UrlPath = Annotated[str, AfterValidator(_starts_with_slash)]
NonBlank = Annotated[str, AfterValidator(_not_blank)]
Method = Annotated[Literal["GET", "POST", "PUT", "DELETE", "PATCH"], BeforeValidator(_upper)]
StatusCode = Annotated[StrictInt, Field(ge=100, le=599)]
JsonBody = Annotated[dict[str, Any] | list[Any] | None, PlainValidator(_json_body)]


# ---------------------------------------------------------------------------------------
# Base


class FrozenModel(BaseModel):
    """Frozen, closed model whose unknown-key message lists the keys that are allowed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Keys accepted but not worth suggesting (the internal ``kind`` of a step).
    _unlisted_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def input_keys(cls) -> list[str]:
        """The keys a mapping for this model may have, as written in YAML (aliases)."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        # extra="forbid" alone would say "Extra inputs are not permitted" without
        # saying what was expected, and one error per key.
        if isinstance(data, Mapping):
            allowed = cls.input_keys()
            unknown = [key for key in data if key not in allowed]
            if unknown:
                listed = [key for key in allowed if key not in cls._unlisted_keys]
                noun = "key" if len(unknown) == 1 else "keys"
                raise ValueError(
                    f"unknown {noun} {quoted(unknown)} (expected one of: {', '.join(listed)})"
                )
        return data

