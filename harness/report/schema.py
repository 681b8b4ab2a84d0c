"""``result.json`` (schema ``oom-harness/result/1``): its published shape as a pydantic
model, and the one place a result is written to it and read from it. ``harness schema
result`` prints its JSON Schema; every result read back is checked against it first, so a
malformed file is refused with the field that is wrong.

Within a schema version fields may be added, never removed or renamed: every object here
takes unknown keys (a later harness's fields); the file's top level keeps them, the
records inside ignore them when reading. Fields added after the first results were
written are optional. A result of a newer version is refused before this model is
consulted (:func:`harness.result.check_schema`).

The records (figures, matrix rows, kills, observations, requests, the container's state,
the alerting record, the pressure report, the request traces) are their dataclasses,
written and read by pydantic from their fields (:mod:`harness.jsondata`); what the file
writes otherwise is spelled out here: samples as ``[t, usage, working set]``, marks as
``[t, label]``, a kill with its detection latency, the typed facts among ``facts``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    WrapSerializer,
    model_serializer,
)

from harness.attempts import RequestTrace, trace_requests
from harness.errors import ResultError
from harness.evidence import (
    TYPED_FACT_KEYS,
    ClientRequest,
    ContainerState,
    Kill,
    MemorySample,
    Observation,
    RunEvidence,
    SourceStatus,
)
from harness.evidence.alerts import AlertEvidence
from harness.jsondata import from_data, problems, to_data
from harness.matrix import MatrixRow, RunFigures
from harness.pressure import PressureReport, pressure_report
from harness.result import SCHEMA, RunResult, ScenarioResult, check_schema

#: The ``$id`` of the published schema.
SCHEMA_ID = "https://oom-harness.invalid/schema/result/1"


class _Open(BaseModel):
    """Fields a later harness added within the version are allowed (and kept in the file)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    #: Keys written only when they hold something (as the file has always had them).
    omitted_when_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_absent(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = write(self)
        for key in self.omitted_when_none:
            if data.get(key) is None:
                data.pop(key, None)
        return data


def _with_latency(kill: Kill, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
    """A kill as written: its fields and how long after the kernel's line it was noticed."""
    return {**write(kill), "detection_latency_ms": kill.detection_latency_ms}


#: A kill in the file (the latency is written for readers; reading ignores it).
KillEntry = Annotated[Kill, WrapSerializer(_with_latency)]


class EvidenceEntry(_Open):
    """What the run's collectors read."""

    memory_limit_bytes: int | None
    highwater_bytes: int | None = None
    status: dict[str, SourceStatus]
    kills: list[KillEntry]
    observations: list[Observation]
    one_minute: list[tuple[float, float]] = Field(description="[minute start, average bytes]")
    samples: list[tuple[float, int | None, int | None]] = Field(description="[t, usage bytes, working set bytes]")
    requests: list[ClientRequest]
    marks: list[tuple[float, str]] = Field(description="[t, step label]")
    facts: dict[str, Any]
    alerts: AlertEvidence | None = Field(default=None, description="the monitoring stack's record, when one ran")
    omitted_when_none = ("alerts",)


class RunEntry(_Open):
    """One run: its figures, its matrix, its failed expectations and its evidence (the
    pressure report and the request traces first, where the run has them)."""

    pressure: PressureReport | None = Field(default=None, description="memory pressure between the run's snapshots")
    per_request: list[RequestTrace] | None = Field(default=None,
                                                   description="the notable requests, followed into the app")
    omitted_when_none = ("pressure", "per_request")
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


#: The files the harness writes whose JSON Schema ``harness schema`` prints, and where.
SCHEMA_FILES = {"result": "result.json", "sweep": "sweep.json", "right-size": "right-size.json",
                "compare": "compare.json", "diagnose": "harness diagnose --json"}


def schema_of(kind: str) -> dict[str, Any]:
    """The JSON Schema of one of :data:`SCHEMA_FILES`: as read back for the files a
    command reads again (result, sweep), as written for the others."""
    from harness.compare import ComparisonData
    from harness.diagnose.model import DiagnosisData
    from harness.sweep.rightsize import RightSize
    from harness.sweep.summary import SweepSummary

    if kind == "result":
        return result_schema()
    found: dict[str, Any]
    if kind == "sweep":
        found = TypeAdapter(SweepSummary).json_schema()
    elif kind == "right-size":
        found = TypeAdapter(RightSize).json_schema(mode="serialization")
    elif kind == "compare":
        found = ComparisonData.model_json_schema(mode="serialization")
    elif kind == "diagnose":
        found = DiagnosisData.model_json_schema(mode="serialization")
    else:
        raise ValueError(f"no schema {kind!r} (one of {', '.join(SCHEMA_FILES)})")
    return {**found, "title": f"oom-harness {SCHEMA_FILES[kind]}"}


def schema_text(kind: str = "result") -> str:
    """What ``harness schema KIND`` prints (the files in docs/reference are this text)."""
    return json.dumps(schema_of(kind), indent=2, sort_keys=True) + "\n"


def result_data(result: ScenarioResult) -> dict[str, Any]:
    """``result`` as ``result.json`` holds it (JSON data)."""
    file = ResultFile(
        schema=SCHEMA, scenario=result.scenario, scenario_file=result.scenario_file, passed=result.passed,
        failures=result.failures, engine=result.engine, settings=result.settings,
        runs=[_run_entry(run) for run in result.runs], matrix=result.matrix,
        spread={key: SpreadEntry(**spread) for key, spread in result.spread().items()},
        **result.extra,
    )
    data: dict[str, Any] = file.model_dump(mode="json", by_alias=True)
    return data


def result_from_data(data: dict[str, Any]) -> ScenarioResult:
    """A result read from ``result.json``'s data: its schema version is checked first, then
    its shape (the file's top-level keys this harness does not know are kept in ``extra``).

    Raises:
        ResultError: not a harness result, a newer version, or not the published shape
            (the first problems named by their fields).
    """
    check_schema(data)
    file = read_result_file(data)
    return ScenarioResult(
        scenario=file.scenario, scenario_file=file.scenario_file, engine=dict(file.engine),
        runs=[_run_result(run) for run in file.runs], matrix=list(file.matrix),
        failures=list(file.failures), settings=dict(file.settings), extra=dict(file.model_extra or {}),
    )


def read_result_file(data: dict[str, Any]) -> ResultFile:
    """``data`` read through the schema.

    Raises:
        ResultError: ``data`` does not have the published shape (the first problems named).
    """
    try:
        return ResultFile.model_validate(data)
    except ValidationError as exc:
        found = problems(exc)
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        raise ResultError(f"not a valid oom-harness/result/1 result: {'; '.join(found[:3])}{more}") from exc


def _run_entry(run: RunResult) -> RunEntry:
    ev, fig = run.evidence, run.figures
    notable = [trace for trace in trace_requests(ev) if trace.notable]
    return RunEntry(
        run=ev.run, backend=ev.backend, started_at=ev.started_at, ended_at=ev.ended_at,
        oom_kills=fig.oom_kills, kill_threshold_mb=fig.kill_threshold_mb, peak_mb=fig.peak_mb,
        peak_1m_avg_mb=fig.peak_1m_avg_mb, figures=fig, matrix=run.matrix, failures=run.failures,
        evidence=EvidenceEntry(
            memory_limit_bytes=ev.memory_limit_bytes, highwater_bytes=ev.highwater_bytes, status=ev.status,
            kills=ev.kills, observations=ev.observations, one_minute=ev.one_minute,
            samples=[(round(s.t, 4), s.usage_bytes, s.working_set_bytes) for s in ev.samples],
            requests=ev.requests, marks=ev.marks, facts={**ev.facts, **_typed_facts_data(ev)}, alerts=ev.alerts,
        ),
        pressure=pressure_report(ev), per_request=notable or None,
    )


def _typed_facts_data(ev: RunEvidence) -> dict[str, Any]:
    """The typed facts under their ``facts`` keys (the ones known only)."""
    typed: dict[str, Any] = {
        "engine": ev.engine_label, "final_state": to_data(ev.final_state) if ev.final_state else None,
        "snapshots": ev.snapshots or None, "health_probes": ev.health_probes,
        "health_probe_failures": ev.health_probe_failures,
        "health_probe_boot_failures": ev.health_probe_boot_failures,
    }
    return {key: value for key, value in typed.items() if value is not None}


def _run_result(run: RunEntry) -> RunResult:
    ev = run.evidence
    facts = ev.facts
    state = facts.get("final_state")
    evidence = RunEvidence(
        run=run.run, backend=run.backend, started_at=run.started_at, ended_at=run.ended_at,
        memory_limit_bytes=ev.memory_limit_bytes, observations=list(ev.observations), kills=list(ev.kills),
        status=dict(ev.status), samples=[MemorySample(t, u, w) for t, u, w in ev.samples],
        highwater_bytes=ev.highwater_bytes, one_minute=list(ev.one_minute), requests=list(ev.requests),
        marks=list(ev.marks), engine_label=facts.get("engine"),
        final_state=from_data(ContainerState, state) if isinstance(state, dict) else None,
        snapshots=list(facts.get("snapshots") or []), health_probes=facts.get("health_probes"),
        health_probe_failures=facts.get("health_probe_failures"),
        health_probe_boot_failures=facts.get("health_probe_boot_failures"),
        alerts=ev.alerts, facts={k: v for k, v in facts.items() if k not in TYPED_FACT_KEYS},
    )
    return RunResult(evidence, run.figures, list(run.matrix), list(run.failures))
