"""What the run must show: kill counts, each source's verdict, client errors,
per-request outcomes, and expectations that hold on some engines only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictInt,
    model_validator,
)

from harness.scenario.fields import VERDICTS, FrozenModel, NonBlank, SourceId, Verdict, quoted
from harness.scenario.units import quote_value
from harness.sources import source_ids

# ---------------------------------------------------------------------------------------
# Expectations


class KillCount(FrozenModel):
    """An inclusive range for a count (OOM kills, client errors); ``max`` None is unbounded."""

    min: Annotated[StrictInt, Field(ge=0)] = 0
    max: Annotated[StrictInt, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> KillCount:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self

    def matches(self, count: int) -> bool:
        """True when ``count`` lies in the range."""
        return count >= self.min and (self.max is None or count <= self.max)

    def describe(self) -> str:
        """``exactly 1``, ``at least 1`` or ``1 to 3``."""
        if self.max is None:
            return f"at least {self.min}"
        if self.max == self.min:
            return f"exactly {self.min}"
        return f"{self.min} to {self.max}"


def _count_form(value: Any) -> Any:
    """An int ``n`` means exactly ``n``: ``{min: n, max: n}``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a count or {{min, max}}, got {quote_value(value)}")
    if isinstance(value, int):
        return {"min": value, "max": value}
    if isinstance(value, Mapping) and not value:
        raise ValueError("give min, max or both")
    return value


Count = Annotated[KillCount, BeforeValidator(_count_form)]


def _verdict_list(source: str, value: Any) -> list[str]:
    verdicts = value if isinstance(value, list) else [value]
    if not verdicts:
        raise ValueError(f"{source}: give at least one verdict")
    for verdict in verdicts:
        if verdict not in VERDICTS:
            expected = ", ".join(VERDICTS)
            raise ValueError(
                f"{source}: {quote_value(verdict)} is not a verdict (expected one of: {expected})"
            )
    return list(dict.fromkeys(verdicts))


def _sources_form(value: Any) -> Any:
    """Check source ids against the declared sources and make every expected verdict a list."""
    if not isinstance(value, Mapping):
        return value
    known = source_ids()
    unknown = [source for source in value if source not in known]
    if unknown:
        noun = "source" if len(unknown) == 1 else "sources"
        raise ValueError(
            f"unknown {noun} {quoted(unknown)} (expected one of: {', '.join(known)})"
        )
    return {source: _verdict_list(source, verdicts) for source, verdicts in value.items()}


def _alerts_form(value: Any) -> Any:
    """Every expected verdict of an alert rule a list (rule names are checked against the
    scenario's rules by the scenario)."""
    if not isinstance(value, Mapping):
        return value
    return {rule: _verdict_list(rule, verdicts) for rule, verdicts in value.items()}


class PerRequest(FrozenModel):
    """What each client request of one named step must have caused: how many attempts
    reached the app (a retrying ingress sends more than one) and how many OOM kills
    those attempts caused."""

    attempts: Count | None = None
    kills: Count | None = None

    @model_validator(mode="after")
    def _something(self) -> PerRequest:
        if self.attempts is None and self.kills is None:
            raise ValueError("give attempts, kills or both")
        return self


_ENGINE_SPEC = re.compile(r"^(?:(?P<name>docker|podman)(?P<op>>=|<|==)(?P<major>\d+)(?:\.(?P<minor>\d+))?"
                          r"|cgroup=v(?P<cgroup>[12])|(?P<emulated>emulated))$")


def _engine_spec(value: str) -> str:
    if not _ENGINE_SPEC.match(value):
        raise ValueError(f"{quote_value(value)} is not an engine condition "
                         "(docker>=24, docker<24, docker==26.1, podman<5, cgroup=v1, cgroup=v2 or emulated)")
    return value


def _version_tuple(text: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)(?:\.(\d+))?", text)
    return (int(match[1]), int(match[2] or 0)) if match else None


def engine_matches(spec: str, engine: Mapping[str, Any]) -> bool:
    """Whether an engine (a result's ``engine``: name, version, cgroup_version) meets ``spec``.

    ``docker>=24`` or ``podman<5`` compares the named engine's major (and minor, when
    given) versions; ``cgroup=v2`` the cgroup version; ``emulated`` holds for an engine in
    a guest under software emulation (qemu's TCG, where everything runs several times
    slower: a timing finding can differ there). An engine that does not say its version
    meets no version condition.
    """
    match = _ENGINE_SPEC.match(spec)
    if match is None:
        return False
    if match["emulated"]:
        host = engine.get("host")
        return isinstance(host, Mapping) and host.get("accel") == "tcg"
    if match["cgroup"]:
        return str(engine.get("cgroup_version", "")) == match["cgroup"]
    if str(engine.get("name", "")) != match["name"]:
        return False
    have = _version_tuple(str(engine.get("version", "")))
    if have is None:
        return False
    want = (int(match["major"]), int(match["minor"] or 0))
    have = have if match["minor"] else (have[0], 0)
    return {">=": have >= want, "<": have < want, "==": have == want}[match["op"]]


class EngineExpectations(FrozenModel):
    """Expectations that replace the scenario's own on engines meeting a condition."""

    kills: Count | None = None
    sources: Annotated[dict[SourceId, list[Verdict]], BeforeValidator(_sources_form)] = {}
    client_errors: Count | None = None


class Expectations(FrozenModel):
    """What a run must show; any that fails makes the exit code 1.

    ``per_request`` is keyed by the name of an ``http`` or ``burst`` step; ``alerts`` by
    the name of an alerting rule (its row's verdict). ``on_engine``
    is keyed by an engine condition (``docker>=24``, ``podman<5``, ``cgroup=v2``, ``emulated``): where a finding is
    true on some engines only, the scenario says what each shows, and the expectations of
    every condition the run's engine meets replace the general ones, key by key.
    """

    kills: Count | None = None
    sources: Annotated[dict[SourceId, list[Verdict]], BeforeValidator(_sources_form)] = {}
    client_errors: Count | None = None
    per_request: dict[NonBlank, PerRequest] = {}
    alerts: Annotated[dict[NonBlank, list[Verdict]], BeforeValidator(_alerts_form)] = {}
    on_engine: dict[Annotated[str, AfterValidator(_engine_spec)], EngineExpectations] = {}

    def allowed_verdicts(self, source: SourceId) -> tuple[Verdict, ...]:
        """The verdicts accepted for ``source``; empty when the scenario expects nothing."""
        return tuple(self.sources.get(source, ()))

    def for_engine(self, engine: Mapping[str, Any]) -> Expectations:
        """These expectations as they apply on ``engine``."""
        result = self
        for spec, override in self.on_engine.items():
            if not engine_matches(spec, engine):
                continue
            update: dict[str, Any] = {"sources": {**result.sources, **override.sources}}
            if override.kills is not None:
                update["kills"] = override.kills
            if override.client_errors is not None:
                update["client_errors"] = override.client_errors
            result = result.model_copy(update=update)
        return result


