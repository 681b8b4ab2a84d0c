"""Running a scenario: each repeat on a fresh target, then matrices, figures and verdicts."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from harness.attempts import trace_requests
from harness.backends.base import Backend, TargetSession
from harness.collectors.client import HealthProber, outages, request_observations
from harness.evidence import RunEvidence, SourceStatus
from harness.matrix import aggregate, build_matrix, figures
from harness.result import RunResult, ScenarioResult
from harness.runner.expect import check_run
from harness.runner.progress import ProgressLine
from harness.runner.steps import StepDriver, StepFailed
from harness.scenario import Scenario


def run_scenario(
    scenario: Scenario, backend: Backend, scenario_file: str | Path | None = None,
    show_progress: bool = True, transport: httpx.BaseTransport | None = None,
) -> ScenarioResult:
    """Run every repeat of ``scenario`` on ``backend`` and judge the result."""
    engine = backend.describe()
    runs = [run_once(scenario, backend, i, show_progress, transport) for i in range(1, scenario.repeat + 1)]
    return ScenarioResult(
        scenario=scenario.name,
        scenario_file=str(scenario_file) if scenario_file else None,
        engine=engine,
        runs=runs,
        matrix=aggregate([r.matrix for r in runs]),
        failures=[f for r in runs for f in r.failures],
        settings=scenario.model_dump(mode="json", by_alias=True),
    )


def run_once(
    scenario: Scenario, backend: Backend, run: int, show_progress: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> RunResult:
    """One run: launch, drive the steps, let collectors settle, judge."""
    with backend.launch(scenario, run) as session:
        evidence, step_failure = _drive(scenario, session, run, show_progress, transport)
    run_figures = figures(evidence)
    matrix = build_matrix(evidence)
    failures = [f"run {run}: {step_failure}"] if step_failure else []
    failures += check_run(run, scenario.expect, run_figures, matrix, trace_requests(evidence))
    return RunResult(evidence, run_figures, matrix, failures)


def _drive(
    scenario: Scenario, session: TargetSession, run: int, show_progress: bool,
    transport: httpx.BaseTransport | None,
) -> tuple[RunEvidence, str | None]:
    deadline = time.monotonic() + scenario.run_timeout
    progress = ProgressLine(f"[{scenario.name} run {run}/{scenario.repeat}]", session.live)
    driver = StepDriver(session, scenario.target.health_path, deadline, transport,
                        on_phase=progress.set_phase if show_progress else lambda _: None)
    prober = HealthProber(session.probe_url, scenario.target.health_path, transport=transport)
    failure: str | None = None
    if show_progress:
        progress.start()
    prober.start()
    try:
        driver.run(list(scenario.steps))
        driver.on_phase("settle")
        time.sleep(max(0.0, min(scenario.settle, deadline - time.monotonic())))
    except StepFailed as exc:
        failure = str(exc)
    finally:
        probes = prober.stop()
        driver.close()
        if show_progress:
            progress.stop()
    evidence = session.finish()
    evidence.requests = driver.requests
    evidence.marks = driver.marks
    if driver.snapshots:
        evidence.facts["snapshots"] = driver.snapshots
    evidence.observations = sorted(
        evidence.observations + request_observations(driver.requests) + outages(probes), key=lambda o: o.t)
    evidence.status.setdefault("client", SourceStatus.ok())
    evidence.status.setdefault("health_probe", SourceStatus.ok())
    evidence.facts["health_probes"] = len(probes)
    evidence.facts["health_probe_failures"] = sum(1 for p in probes if not p.ok)
    return evidence, failure
