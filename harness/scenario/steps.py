"""What the scenario does to the app: conditions to wait for, and the steps (health
wait, HTTP calls, polls, bursts, sleeps, snapshots) in their short and long YAML forms."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from harness.scenario.fields import (
    FrozenModel,
    JsonBody,
    Method,
    NonBlank,
    SleepDuration,
    StatusCode,
    Timeout,
    UrlPath,
    quoted,
)
from harness.scenario.units import quote_value

# ---------------------------------------------------------------------------------------
# Conditions


class Condition(FrozenModel):
    """What a ``poll`` or ``wait`` step waits for: every field that is set must hold.

    ``json_field`` is a dot-separated path into the polled JSON response (``pid`` or
    ``cgroup.oom_kills``); it needs exactly one of ``changed`` (the value differs from the
    first one seen in this step) or ``equals``. ``equals: null`` counts as not set, so a
    field cannot be compared with null.
    """

    kills: Annotated[StrictInt, Field(ge=1)] | None = None
    json_field: NonBlank | None = None
    changed: StrictBool | None = None
    equals: Any = None
    status: StatusCode | None = None
    exited: StrictBool | None = None

    @model_validator(mode="after")
    def _check_consistent(self) -> Condition:
        compares = [name for name in ("changed", "equals") if getattr(self, name) is not None]
        if self.json_field is None and compares:
            raise ValueError(f"{compares[0]} needs json_field")
        if all(getattr(self, name) is None for name in ("kills", "json_field", "status", "exited")):
            raise ValueError("a condition needs at least one of: kills, json_field, status, exited")
        if self.json_field is not None and len(compares) != 1:
            raise ValueError("json_field needs exactly one of: changed, equals")
        return self

    @property
    def uses_response(self) -> bool:
        """True when the condition reads an HTTP response (status or JSON field)."""
        return self.json_field is not None or self.status is not None

    def describe(self) -> str:
        """A short human form, for progress lines and timeout messages."""
        parts: list[str] = []
        if self.kills is not None:
            parts.append(f"kills >= {self.kills}")
        if self.json_field is not None:
            if self.changed is not None:
                parts.append(f"{self.json_field} {'changed' if self.changed else 'unchanged'}")
            else:
                parts.append(f"{self.json_field} == {json.dumps(self.equals)}")
        if self.status is not None:
            parts.append(f"status == {self.status}")
        if self.exited is not None:
            parts.append("exited" if self.exited else "running")
        return " and ".join(parts)


# ---------------------------------------------------------------------------------------
# Steps


class _Step(FrozenModel):
    _unlisted_keys: ClassVar[frozenset[str]] = frozenset({"kind"})


class WaitHealthyStep(_Step):
    """Poll ``target.health_path`` until it answers 2xx."""

    kind: Literal["wait_healthy"] = "wait_healthy"
    timeout: Timeout = 30.0
    interval: Timeout = 0.2


class HttpStep(_Step):
    """Send one request; the response (or the error) is recorded as a client signal."""

    kind: Literal["http"] = "http"
    name: NonBlank | None = None
    method: Method = "GET"
    path: UrlPath
    # ``json`` would shadow BaseModel.json(), so the field is ``body`` with YAML key ``json``.
    body: JsonBody = Field(default=None, alias="json")
    timeout: Timeout = 30.0
    expect_status: StatusCode | None = None


class PollStep(_Step):
    """Request ``path`` every ``every`` until ``until`` holds or ``timeout`` passes."""

    kind: Literal["poll"] = "poll"
    method: Method = "GET"
    path: UrlPath
    every: Timeout = 0.5
    timeout: Timeout
    until: Condition


class WaitStep(_Step):
    """Wait on harness-level facts (kills, exit) without sending requests."""

    kind: Literal["wait"] = "wait"
    until: Condition
    timeout: Timeout
    every: Timeout = 0.1

    @field_validator("until")
    @classmethod
    def _no_response_needed(cls, value: Condition) -> Condition:
        if value.uses_response:
            raise ValueError("json_field and status need an HTTP response; use a poll step")
        return value


class SleepStep(_Step):
    """Do nothing for a while (collectors keep running)."""

    kind: Literal["sleep"] = "sleep"
    duration: SleepDuration


class BurstStep(_Step):
    """Send ``count`` requests, at most ``concurrency`` at a time; with ``rate``, start at
    most that many per second (steady traffic, so memory that grows per request climbs
    over seconds instead of jumping)."""

    kind: Literal["burst"] = "burst"
    name: NonBlank | None = None
    method: Method = "GET"
    path: UrlPath
    body: JsonBody = Field(default=None, alias="json")
    count: Annotated[StrictInt, Field(ge=1, le=10000)]
    concurrency: Annotated[StrictInt, Field(ge=1, le=256)]
    rate: Annotated[float, Field(gt=0, le=10000)] | None = None
    timeout: Timeout = 30.0
    total_timeout: Timeout = 300.0


class WaitExitStep(_Step):
    """Wait until the container has exited for good (no restart pending)."""

    kind: Literal["wait_exit"] = "wait_exit"
    timeout: Timeout


class SnapshotStep(_Step):
    """Capture the JSON of ``paths`` under ``name`` (baseline, mid-leak, post-heavy ...),
    for the report's before/after delta tables."""

    kind: Literal["snapshot"] = "snapshot"
    name: NonBlank
    paths: Annotated[list[UrlPath], Field(min_length=1)] = ["/diag/proc", "/diag/stats"]
    timeout: Timeout = 30.0


STEP_TYPES: tuple[type[_Step], ...] = (
    WaitHealthyStep,
    HttpStep,
    PollStep,
    WaitStep,
    SleepStep,
    BurstStep,
    WaitExitStep,
    SnapshotStep,
)
STEP_KINDS: tuple[str, ...] = tuple(step.model_fields["kind"].default for step in STEP_TYPES)

# The option a scalar value stands for: ``- sleep: 2s`` is ``- sleep: {duration: 2s}``.
_SHORTHAND: dict[str, str] = {
    "sleep": "duration",
    "wait_healthy": "timeout",
    "wait_exit": "timeout",
    "snapshot": "name",
}

_STEP_EXAMPLE = "e.g. `- sleep: 2s` or `- http: {path: /start}`"


def _unknown_kind(kind: object) -> ValueError:
    return ValueError(
        f"unknown step kind {quote_value(kind)} (expected one of: {', '.join(STEP_KINDS)})"
    )


def _step_options(kind: str, options: Any) -> dict[str, Any]:
    """The options mapping of a one-key step, expanding the scalar shorthand."""
    if options is None:
        return {}
    if isinstance(options, Mapping):
        if "kind" in options:
            raise ValueError(f'"kind" is not an option: the key "{kind}" already gives the kind')
        return dict(options)
    if kind in _SHORTHAND:
        return {_SHORTHAND[kind]: options}
    raise ValueError(f'the options of "{kind}" must be a mapping, got {quote_value(options)}')


def _not_one_key(value: Mapping[Any, Any]) -> str:
    """Explain a step mapping without exactly one key, spotting mis-indented options."""
    if not value:
        return f"a step cannot be an empty mapping ({_STEP_EXAMPLE})"
    message = (
        f"a step must have exactly one key, its kind ({_STEP_EXAMPLE}), "
        f"but has {len(value)}: {quoted(value)}"
    )
    first, options = next(iter(value.items()))
    if first in STEP_KINDS and options is None:
        message += f' (indent the options under "{first}:")'
    return message


def _step_form(value: Any) -> Any:
    """Turn ``{"sleep": "2s"}`` or ``"wait_healthy"`` into the flat ``{"kind": ...}`` form."""
    if isinstance(value, _Step):
        return value
    if isinstance(value, str):
        if value not in STEP_KINDS:
            raise _unknown_kind(value)
        return {"kind": value}
    if not isinstance(value, Mapping):
        raise ValueError(f"a step must be a mapping ({_STEP_EXAMPLE}), got {quote_value(value)}")
    if "kind" in value:  # already flat, e.g. read back from model_dump()
        if value["kind"] not in STEP_KINDS:
            raise _unknown_kind(value["kind"])
        return value
    if len(value) != 1:
        raise ValueError(_not_one_key(value))
    ((kind, options),) = value.items()
    if kind not in STEP_KINDS:
        raise _unknown_kind(kind)
    return {"kind": kind, **_step_options(kind, options)}


Step = Annotated[
    Annotated[
        WaitHealthyStep
        | HttpStep
        | PollStep
        | WaitStep
        | SleepStep
        | BurstStep
        | WaitExitStep
        | SnapshotStep,
        Field(discriminator="kind"),
    ],
    BeforeValidator(_step_form),
]


