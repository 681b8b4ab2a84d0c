"""A scenario's result: per-run evidence, figures and matrices, the aggregate matrix,
and whether its expectations held. This is what ``result.json`` holds and what
``compare`` and ``diagnose`` read back.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ResultError
from harness.evidence import RunEvidence
from harness.matrix import MatrixRow, RunFigures

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

    @property
    def oom_kills(self) -> int:
        """The OOM kills of all runs."""
        return sum(run.figures.oom_kills for run in self.runs)

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
        """As ``result.json`` holds it (:func:`harness.report.schema.result_data`)."""
        from harness.report.schema import result_data

        return result_data(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioResult:
        """Read what :meth:`to_json` wrote (:func:`harness.report.schema.result_from_data`):
        a newer schema version or a malformed file is refused naming the field."""
        from harness.report.schema import result_from_data

        return result_from_data(data)


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
