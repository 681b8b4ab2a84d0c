"""The sweep's own result: one line per variant, typed and versioned (``sweep.json``).

Each variant's full result is its own result set in the sweep's folder (read by ``harness
show`` and ``harness compare`` like any other); this summary holds what the table and the
plot show, and where each variant's set is."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from harness.errors import ResultError
from harness.jsondata import from_data
from harness.result import ScenarioResult

SCHEMA: Final = "oom-harness/sweep/1"


@dataclass(frozen=True)
class VariantOutcome:
    """One variant: its values, how its run ended, and its figures (medians over its runs)."""

    index: int
    label: str
    values: dict[str, Any]
    folder: str
    exit_code: int | None
    wall_s: float
    runs: int = 0
    kills: int | None = None
    kill_threshold_mb: float | None = None
    time_to_oom_s: float | None = None
    peak_mb: float | None = None
    verdicts: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ran(self) -> bool:
        """Whether it produced a result (passed or failed an expectation)."""
        return self.exit_code in (0, 1)


def outcome_of(index: int, label: str, values: dict[str, Any], folder: str, exit_code: int | None,
               wall_s: float, result: ScenarioResult | None, error: str | None) -> VariantOutcome:
    """A variant's line from its result (None when it did not produce one)."""
    if result is None:
        return VariantOutcome(index, label, values, folder, exit_code, round(wall_s, 1), error=error)
    figures = [run.figures for run in result.runs]
    return VariantOutcome(
        index, label, values, folder, exit_code, round(wall_s, 1), runs=len(result.runs),
        kills=sum(f.oom_kills for f in figures),
        kill_threshold_mb=_median([f.kill_threshold_mb for f in figures]),
        time_to_oom_s=_median([f.time_to_oom_s for f in figures]),
        peak_mb=_median([f.peak_mb for f in figures]),
        verdicts={row.source: row.verdict for row in result.matrix}, error=error,
    )


@dataclass(frozen=True)
class SweepSummary:
    """Every variant of one sweep, with what it was run on."""

    scenario: str
    scenario_file: str
    settings: dict[str, list[Any]]
    repeat: int | None
    capacity: str
    engine: dict[str, Any]
    wall_s: float
    variants: list[VariantOutcome]
    schema: Literal["oom-harness/sweep/1"] = SCHEMA  # written into sweep.json: a reader checks the version


def read_summary(data: dict[str, Any]) -> SweepSummary:
    """A summary from ``sweep.json``'s data; unknown fields are ignored within the
    schema's version, another version is refused."""
    if data.get("schema") != SCHEMA:
        raise ResultError(f"not a sweep summary of this version (schema {data.get('schema')!r}, expected {SCHEMA})")
    return from_data(SweepSummary, data)


def load_summary(path: str | Path) -> SweepSummary:
    """Read ``sweep.json`` (or the sweep folder holding it)."""
    file = Path(path)
    if file.is_dir():
        file = file / "sweep.json"
    try:
        return read_summary(json.loads(file.read_text()))
    except ResultError as exc:
        raise ResultError(f"{file}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultError(f"{file}: not a readable sweep summary ({exc})") from exc


def is_sweep(path: str | Path) -> bool:
    file = Path(path)
    return (file / "sweep.json").is_file() if file.is_dir() else file.name == "sweep.json"


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None
