"""The published shape of ``result.json`` (schema ``oom-harness/result/1``), as a pydantic
model: ``harness schema result`` prints its JSON Schema, and every result read back is
checked against it before it is turned into the result model, so a malformed file is
refused with the field that is wrong.

Within a schema version fields may be added, never removed or renamed: every object here
takes unknown keys (a later harness's fields) and ignores them when reading; fields added
after the first results were written are optional. A result of a newer version is refused
before this model is consulted (:func:`harness.result.check_schema`).

The pieces whose JSON is their dataclass's fields (figures, matrix rows, kills,
observations, requests, the container's state) are described by those dataclasses; the
rest spells out how ``result.json`` writes them (samples as ``[t, usage, working set]``,
marks as ``[t, label]``).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ResultError
from harness.evidence import ClientRequest, Kill, Observation
from harness.matrix import MatrixRow, RunFigures

#: The ``$id`` of the published schema.
SCHEMA_ID = "https://oom-harness.invalid/schema/result/1"


class _Open(BaseModel):
    """Fields a later harness added within the version are allowed (and kept in the file)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class SourceStatusEntry(_Open):
    available: bool
    reason: str | None = None


class EvidenceEntry(_Open):
    """What the run's collectors read."""

    memory_limit_bytes: int | None
    highwater_bytes: int | None = None
    status: dict[str, SourceStatusEntry]
    kills: list[Kill]
    observations: list[Observation]
    one_minute: list[tuple[float, float]] = Field(description="[minute start, average bytes]")
    samples: list[tuple[float, int | None, int | None]] = Field(description="[t, usage bytes, working set bytes]")
    requests: list[ClientRequest]
    marks: list[tuple[float, str]] = Field(description="[t, step label]")
    facts: dict[str, Any]
    alerts: dict[str, Any] | None = Field(default=None, description="the monitoring stack's record, when one ran")


class RunEntry(_Open):
    """One run: its figures, its matrix, its failed expectations and its evidence."""

    run: int
    backend: str
    started_at: float
    ended_at: float
    oom_kills: int
    kill_threshold_mb: float | None
    peak_mb: float | None
    peak_1m_avg_mb: float | None
    figures: RunFigures
    matrix: list[MatrixRow]
    failures: list[str]
    evidence: EvidenceEntry
    pressure: dict[str, Any] | None = None
    per_request: list[dict[str, Any]] | None = None


class SpreadEntry(_Open):
    min: float | None
    max: float | None
    stdev: float | None


class ResultFile(_Open):
    """``result.json``: a scenario's runs, the aggregate matrix and whether it passed."""

    model_config = ConfigDict(extra="allow", frozen=True, title="oom-harness result",
                              json_schema_extra={"$id": SCHEMA_ID})

    schema_: str = Field(alias="schema", pattern=r"^oom-harness/result/1$")
    scenario: str
    scenario_file: str | None
    passed: bool
    failures: list[str]
    engine: dict[str, Any] = Field(description="the engine, its version and cgroup facts, where it ran")
    settings: dict[str, Any] = {}
    runs: list[RunEntry]
    matrix: list[MatrixRow]
    spread: dict[str, SpreadEntry] = {}


def result_schema() -> dict[str, Any]:
    """The JSON Schema of ``result.json``."""
    return ResultFile.model_json_schema(by_alias=True)


def result_schema_text() -> str:
    return json.dumps(result_schema(), indent=2, sort_keys=True) + "\n"


def read_result_file(data: dict[str, Any]) -> ResultFile:
    """``data`` read through the schema: the figures, matrix rows, kills, observations,
    requests as their dataclasses; unknown keys ignored by them.

    Raises:
        ResultError: ``data`` does not have the published shape (the first problems named).
    """
    try:
        return ResultFile.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ResultError(f"not a valid oom-harness/result/1 result: {'; '.join(problems[:3])}{more}") from exc


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]


def validation_problems(data: dict[str, Any]) -> list[str]:
    """Where ``data`` does not have the published shape: one line per problem, naming
    the field by its path (``runs.0.evidence.kills``); empty when it has."""
    try:
        ResultFile.model_validate(data)
    except ValidationError as exc:
        return _problems(exc)
    return []
