"""A scenario's result: per-run evidence, figures and matrices, the aggregate matrix,
and whether its expectations held. This is what ``result.json`` holds and what
``compare`` and ``diagnose`` read back.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.attempts import trace_requests
from harness.errors import ResultError
from harness.evidence import (
    TYPED_FACT_KEYS,
    ContainerState,
    MemorySample,
    RunEvidence,
    SourceStatus,
)
from harness.evidence.alerts import AlertEvidence
from harness.matrix import MatrixRow, RunFigures
from harness.pressure import pressure_report

if TYPE_CHECKING:
    from harness.report.schema import RunEntry

SCHEMA_NAME = "oom-harness/result"
SCHEMA_VERSION = 1
SCHEMA = f"{SCHEMA_NAME}/{SCHEMA_VERSION}"


def check_schema(data: dict[str, Any]) -> None:
    """Refuse a result this harness cannot read correctly: not a harness result, or one
    of a newer schema version (fields may be added within a version, never removed or
    renamed; a change that breaks readers bumps the version)."""
    schema = data.get("schema")
    if not isinstance(schema, str) or not schema.startswith(f"{SCHEMA_NAME}/"):
        raise ResultError(f"not a harness result (schema {schema!r}, expected {SCHEMA})")
    version = schema.rsplit("/", 1)[-1]
    if not version.isdigit():
        raise ResultError(f"unknown result schema {schema!r} (this harness reads {SCHEMA})")
    if int(version) > SCHEMA_VERSION:
        raise ResultError(f"result schema {schema} is newer than this harness reads ({SCHEMA}): "
                          "upgrade oom-harness to read it")


@dataclass
class RunResult:
    """One run: what was seen, the figures, its matrix, and its failed expectations."""

    evidence: RunEvidence
    figures: RunFigures
    matrix: list[MatrixRow]
    failures: list[str] = field(default_factory=list)

    def source(self, source_id: str) -> MatrixRow:
        return _find(self.matrix, source_id)


@dataclass
class ScenarioResult:
    """All runs of a scenario, and the verdict over them."""

    scenario: str
    scenario_file: str | None
    engine: dict[str, Any]
    runs: list[RunResult]
    matrix: list[MatrixRow]
    failures: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    def source(self, source_id: str) -> MatrixRow:
        """The aggregate matrix row of one source, e.g. ``result.source("console_logs")``."""
        return _find(self.matrix, source_id)

    def spread(self) -> dict[str, dict[str, float | None]]:
        """Min, max and stdev across runs of the figures the seed compared run to run."""
        keys = ("kill_threshold_mb", "kill_rss_mb", "time_to_oom_s", "peak_mb", "peak_1m_avg_mb", "oom_kills")
        out: dict[str, dict[str, float | None]] = {}
        for key in keys:
            values = [float(v) for r in self.runs if (v := getattr(r.figures, key)) is not None]
            out[key] = {
                "min": min(values, default=None), "max": max(values, default=None),
                "stdev": round(statistics.pstdev(values), 3) if len(values) > 1 else (0.0 if values else None),
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "scenario": self.scenario,
            "scenario_file": self.scenario_file,
            "passed": self.passed,
            "failures": self.failures,
            "engine": self.engine,
            "settings": self.settings,
            "runs": [_run_json(r) for r in self.runs],
            "matrix": [row.to_json() for row in self.matrix],
            "spread": self.spread(),
            **self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioResult:
        """Read a result written by :meth:`to_json`: its schema version is checked first,
        then it is read through the published schema (:mod:`harness.report.schema`), which
        refuses a malformed file naming the field and ignores fields it does not know."""
        from harness.report.schema import read_result_file

        check_schema(data)
        file = read_result_file(data)
        known = {"schema", "scenario", "scenario_file", "passed", "failures", "engine", "settings",
                 "runs", "matrix", "spread"}
        return cls(
            scenario=file.scenario, scenario_file=file.scenario_file, engine=dict(file.engine),
            runs=[_run_from_entry(run) for run in file.runs], matrix=list(file.matrix),
            failures=list(file.failures), settings=dict(file.settings),
            extra={k: v for k, v in data.items() if k not in known},
        )


def load_result(path: str | Path) -> ScenarioResult:
    """Read a result.json (or a folder holding one) written by ``harness run``."""
    file = Path(path)
    if file.is_dir():
        file = file / "result.json"
    try:
        data = json.loads(file.read_text())
        if not isinstance(data, dict):
            raise ResultError(f"{file}: not a harness result (a JSON {type(data).__name__}, not an object)")
        return ScenarioResult.from_json(data)
    except ResultError as exc:
        if str(exc).startswith(f"{file}:"):
            raise
        raise ResultError(f"{file}: {exc}") from exc
    except FileNotFoundError as exc:
        raise ResultError(f"{file}: no such result file") from exc
    except (OSError, ValueError) as exc:
        raise ResultError(f"{file}: not a readable result file ({exc})") from exc
    except (KeyError, TypeError) as exc:
        raise ResultError(f"{file}: not a harness result (missing {exc})") from exc


def _find(rows: list[MatrixRow], source_id: str) -> MatrixRow:
    for row in rows:
        if row.source == source_id:
            return row
    raise KeyError(f"no matrix row for source {source_id!r}")


def _run_json(run: RunResult) -> dict[str, Any]:
    ev, fig = run.evidence, run.figures
    pressure = pressure_report(ev)
    extra: dict[str, Any] = {"pressure": pressure.to_json()} if pressure else {}
    notable = [t.to_json() for t in trace_requests(ev) if t.notable]
    if notable:
        extra["per_request"] = notable
    return {**extra,
        "run": ev.run,
        "backend": ev.backend,
        "started_at": ev.started_at,
        "ended_at": ev.ended_at,
        "oom_kills": fig.oom_kills,
        "kill_threshold_mb": fig.kill_threshold_mb,
        "peak_mb": fig.peak_mb,
        "peak_1m_avg_mb": fig.peak_1m_avg_mb,
        "figures": fig.to_json(),
        "matrix": [row.to_json() for row in run.matrix],
        "failures": run.failures,
        "evidence": {
            "memory_limit_bytes": ev.memory_limit_bytes,
            "highwater_bytes": ev.highwater_bytes,
            "status": {k: {"available": v.available, "reason": v.reason} for k, v in ev.status.items()},
            "kills": [k.to_json() for k in ev.kills],
            "observations": [o.to_json() for o in ev.observations],
            "one_minute": [[t, avg] for t, avg in ev.one_minute],
            "samples": [[round(s.t, 4), s.usage_bytes, s.working_set_bytes] for s in ev.samples],
            "requests": [r.to_json() for r in ev.requests],
            "marks": [[t, label] for t, label in ev.marks],
            "facts": {**ev.facts, **ev.typed_facts_json()},
            **({"alerts": ev.alerts.to_json()} if ev.alerts is not None else {}),
        },
    }


def _typed_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """The typed facts read back from ``facts`` (where result.json keeps them)."""
    state = facts.get("final_state")
    return {
        "engine_label": facts.get("engine"),
        "final_state": ContainerState.from_json(state) if isinstance(state, dict) else None,
        "snapshots": list(facts.get("snapshots") or []),
        "health_probes": facts.get("health_probes"),
        "health_probe_failures": facts.get("health_probe_failures"),
        "health_probe_boot_failures": facts.get("health_probe_boot_failures"),
    }


def _run_from_entry(run: RunEntry) -> RunResult:
    ev = run.evidence
    evidence = RunEvidence(
        run=run.run, backend=run.backend, started_at=run.started_at, ended_at=run.ended_at,
        memory_limit_bytes=ev.memory_limit_bytes, observations=list(ev.observations), kills=list(ev.kills),
        status={k: SourceStatus(v.available, v.reason) for k, v in ev.status.items()},
        samples=[MemorySample(t, u, w) for t, u, w in ev.samples], highwater_bytes=ev.highwater_bytes,
        one_minute=list(ev.one_minute), requests=list(ev.requests), marks=list(ev.marks),
        **_typed_facts(ev.facts),
        alerts=AlertEvidence.from_json(ev.alerts) if ev.alerts is not None else None,
        facts={k: v for k, v in ev.facts.items() if k not in TYPED_FACT_KEYS},
    )
    return RunResult(evidence, run.figures, list(run.matrix), list(run.failures))
