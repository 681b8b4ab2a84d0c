"""Checking a run against its scenario's expectations: where pass/fail is decided."""

from __future__ import annotations

from collections.abc import Sequence

from harness.attempts import RequestTrace
from harness.matrix import MatrixRow, RunFigures
from harness.scenario.model import Expectations, KillCount


def check_run(
    run: int, expect: Expectations, figures: RunFigures, matrix: list[MatrixRow],
    traces: Sequence[RequestTrace] = (),
) -> list[str]:
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
    for rule, allowed in expect.alerts.items():
        alert_row = rows.get(f"alert:{rule}")
        if alert_row is None:
            unread = rows.get("alert:*")
            why = unread.note if unread is not None else "no monitoring in this run, or no rule of that name"
            failures.append(f"run {run}: alert rule {rule} was not evaluated ({why})")
        elif alert_row.verdict not in allowed:
            row = alert_row
            seen = "n/a" if row.kills_seen is None else f"{row.kills_seen}/{row.ground_truth_kills}"
            failures.append(f"run {run}: alert rule {rule} was {row.verdict} ({seen}: {row.note}), "
                            f"expected {' or '.join(allowed)}")
    for step, wanted in expect.per_request.items():
        failures += _check_step_requests(run, step, wanted.attempts, wanted.kills, traces)
    return failures


def _check_step_requests(
    run: int, step: str, attempts: KillCount | None, kills: KillCount | None, traces: Sequence[RequestTrace],
) -> list[str]:
    """Every client request of ``step`` must have caused the expected attempts and kills."""
    mine = [t for t in traces if t.step == step]
    if not mine:
        return [f"run {run}: step {step} sent no request to judge per_request by"]
    failures = []
    for name, wanted in (("attempts", attempts), ("kills", kills)):
        if wanted is None:
            continue
        for trace in mine:
            seen = getattr(trace, name)
            if seen is None:
                failures.append(f"run {run}: step {step}, request {trace.request_id}: {name} unavailable "
                                "(the app logs no request ids)")
            elif not wanted.matches(seen):
                failures.append(f"run {run}: step {step}, request {trace.request_id}: expected "
                                f"{wanted.describe()} {name} per request, saw {seen}")
    return failures
