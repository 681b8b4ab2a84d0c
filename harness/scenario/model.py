"""Typed, frozen models of a scenario file.

A scenario says which image to run in a container with which limits, which steps to drive
against it, and which verdicts the gap matrix should show. The YAML is validated once, here,
so the runner, the collectors and the report only ever see these objects.

Shapes the YAML may take and what they become:

* sizes (``"0.5Gi"``, ``"512m"``, bytes) become ``int`` bytes; durations (``"30s"``,
  ``"500ms"``, seconds) become ``float`` seconds -- see :mod:`harness.scenario.units`;
* a step is a one-key mapping named after its kind (``- sleep: 2s``,
  ``- http: {path: /start}``) or a bare kind name (``- wait_healthy``); it becomes one of the
  ``*Step`` models, each with a ``kind`` field. The flat form ``{kind: http, path: /start}``
  is accepted too, so ``model_dump(mode="json", by_alias=True)`` reads back unchanged;
* ``target.process`` may be omitted, a kind name, or a mapping without ``kind``: all mean
  gunicorn;
* ``restart`` may be a bare policy (``restart: on-failure``); YAML's unquoted ``no`` (read
  as false) means the policy ``"no"``;
* an expected count may be an int (exactly) or ``{min, max}``; it becomes :class:`KillCount`;
* an expected verdict may be one verdict or a list of acceptable ones; it becomes a list.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictInt,
    model_validator,
)

from harness.scenario.expectations import Count, EngineExpectations, Expectations, KillCount, PerRequest, engine_matches
from harness.scenario.fields import (
    LAB_IMAGE,
    MAX_TIMEOUT,
    MIN_MEMORY,
    VERDICTS,
    Duration,
    FrozenModel,
    JsonBody,
    Method,
    NonBlank,
    OptionalSize,
    Size,
    SleepDuration,
    SourceId,
    StatusCode,
    Timeout,
    UrlPath,
    Verdict,
    quoted,
    seconds_within,
)
from harness.scenario.ingress import RETRY_ON, Ingress, RetryOn
from harness.scenario.limits import Limits, RestartPolicy, RestartPolicyName, restart_form
from harness.scenario.monitoring import Monitoring, RulesFile
from harness.scenario.steps import (
    STEP_KINDS,
    STEP_TYPES,
    BurstStep,
    Condition,
    HttpStep,
    PollStep,
    SleepStep,
    SnapshotStep,
    Step,
    WaitExitStep,
    WaitHealthyStep,
    WaitStep,
)
from harness.scenario.target import (
    PROCESS_KINDS,
    GunicornProcess,
    ImageDefault,
    KillLogPattern,
    PlainProcess,
    Process,
    Target,
    UvicornProcess,
    UwsgiProcess,
)
from harness.scenario.units import quote_value

# ---------------------------------------------------------------------------------------
# Scenario

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _name_form(value: str) -> str:
    # The name ends up in container names and result folders.
    if not _NAME.match(value):
        raise ValueError(
            f"{quote_value(value)} is not a usable name (letters, digits, '.', '_', '-'; "
            "starting with a letter or digit; at most 64 characters)"
        )
    return value


class Scenario(FrozenModel):
    """One experiment: a target under limits, the steps to drive, and what must be seen."""

    name: Annotated[str, AfterValidator(_name_form)]
    description: str = ""
    target: Target
    limits: Limits
    restart: Annotated[RestartPolicy, BeforeValidator(restart_form)] = RestartPolicy()
    repeat: Annotated[StrictInt, Field(ge=1, le=100)] = 1
    sample_interval: Annotated[Duration, seconds_within(0.005, 5.0)] = 0.02
    settle: Annotated[Duration, seconds_within(0.0, 60.0)] = 1.0
    run_timeout: Annotated[Duration, seconds_within(0.0, MAX_TIMEOUT, allow_minimum=False)] = 120.0
    ingress: Ingress | None = None
    monitoring: Monitoring | None = None
    steps: Annotated[list[Step], Field(min_length=1)]
    expect: Expectations = Expectations()

    @model_validator(mode="after")
    def _per_request_names_steps(self) -> Scenario:
        named = [step.name for step in self.steps if isinstance(step, (HttpStep, BurstStep)) and step.name]
        unknown = [name for name in self.expect.per_request if name not in named]
        if unknown:
            known = ", ".join(named) or "none: give an http or burst step a name"
            raise ValueError(
                f"expect.per_request: {quoted(unknown)} names no http or burst step "
                f"(named steps: {known})"
            )
        return self

    @model_validator(mode="after")
    def _alert_expectations_name_rules(self) -> Scenario:
        if not self.expect.alerts:
            return self
        if self.monitoring is None:
            raise ValueError("expect.alerts needs a monitoring section (or run with --monitoring)")
        if self.monitoring.external:
            return self  # your Prometheus's rules are known only when the run reads them
        known = [rule.name for rule in self.monitoring.alert_rules()]
        unknown = [name for name in self.expect.alerts if name not in known]
        if unknown:
            raise ValueError(f"expect.alerts: {quoted(unknown)} names no alerting rule "
                             f"(rules: {', '.join(known)})")
        return self

    def with_monitoring(self, monitoring: Monitoring) -> Scenario:
        """This scenario with ``monitoring`` (``--monitoring`` on the command line)."""
        return self.model_copy(update={"monitoring": monitoring})


__all__ = [
    "BurstStep",
    "Condition",
    "Count",
    "Duration",
    "EngineExpectations",
    "Expectations",
    "FrozenModel",
    "GunicornProcess",
    "HttpStep",
    "ImageDefault",
    "Ingress",
    "JsonBody",
    "KillCount",
    "KillLogPattern",
    "LAB_IMAGE",
    "Limits",
    "MAX_TIMEOUT",
    "MIN_MEMORY",
    "Method",
    "Monitoring",
    "NonBlank",
    "OptionalSize",
    "PROCESS_KINDS",
    "PerRequest",
    "PlainProcess",
    "PollStep",
    "Process",
    "RETRY_ON",
    "RestartPolicy",
    "RestartPolicyName",
    "RetryOn",
    "RulesFile",
    "STEP_KINDS",
    "STEP_TYPES",
    "Scenario",
    "Size",
    "SleepDuration",
    "SleepStep",
    "SnapshotStep",
    "SourceId",
    "StatusCode",
    "Step",
    "Target",
    "Timeout",
    "UrlPath",
    "UvicornProcess",
    "UwsgiProcess",
    "VERDICTS",
    "Verdict",
    "WaitExitStep",
    "WaitHealthyStep",
    "WaitStep",
    "engine_matches",
    "quoted",
    "restart_form",
    "seconds_within",
]
