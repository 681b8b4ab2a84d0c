"""Checking a run against its scenario's expectations: where pass/fail is decided."""

from __future__ import annotations

from harness.matrix import MatrixRow, RunFigures
from harness.scenario.model import Expectations


def check_run(run: int, expect: Expectations, figures: RunFigures, matrix: list[MatrixRow]) -> list[str]:
    """One line per expectation that does not hold in this run."""
    failures = []
    if expect.kills is not None and not expect.kills.matches(figures.oom_kills):
        failures.append(f"run {run}: expected {expect.kills.describe()} OOM kills, saw {figures.oom_kills}")
    if expect.client_errors is not None and not expect.client_errors.matches(figures.client_errors):
        failures.append(f"run {run}: expected {expect.client_errors.describe()} client errors, "
                        f"saw {figures.client_errors}")
    rows = {row.source: row for row in matrix}
    for source, allowed in expect.sources.items():
        row = rows[source]
        if row.verdict not in allowed:
            seen = "n/a" if row.kills_seen is None else f"{row.kills_seen}/{row.ground_truth_kills}"
            failures.append(f"run {run}: {source} was {row.verdict} ({seen}), expected {' or '.join(allowed)}")
    return failures
