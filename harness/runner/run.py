"""Running a scenario: each repeat on a fresh target, then matrices, figures and verdicts."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from harness.attempts import trace_requests
from harness.backends.base import Backend, TargetSession
from harness.collectors import console_logs
from harness.collectors.client import HealthProber, failures_before_first_answer, outages, request_observations
from harness.errors import EngineLost
from harness.evidence import ClientRequest, Observation, RunEvidence, SourceStatus
from harness.matrix import aggregate, build_matrix, figures, ground_truth
from harness.matrix.claims import trim_other_lines
from harness.result import RunResult, ScenarioResult
from harness.runner.expect import check_run
from harness.runner.progress import ProgressLine
from harness.runner.steps import StepDriver, StepFailed
from harness.scenario import Scenario
from harness.scenario.timescale import scale_timeouts

#: The health probe's time-out on real hardware (a Kubernetes probe's default is 1 s too).
PROBE_TIMEOUT_S = 1.0


def run_scenario(
    scenario: Scenario, backend: Backend, scenario_file: str | Path | None = None,
    show_progress: bool = True, transport: httpx.BaseTransport | None = None, time_scale: float = 1.0,
    host: Mapping[str, Any] | None = None,
) -> ScenarioResult:
    """Run every repeat of ``scenario`` on ``backend`` and judge the result.

    ``time_scale`` (>= 1, measured on a slow machine such as an emulated guest) stretches
    every bounded wait, the health probe's time-out included; the settings recorded are
    the scenario's own, and the factor is recorded with the engine. ``host`` says where the
    engine runs when that is not this machine as it is (the guest: qemu, its acceleration):
    recorded with the engine, and read by the engine conditions (``emulated``).
    """
    engine = dict(backend.describe())
    if time_scale > 1.0:
        engine["time_scale"] = time_scale
    if host is not None:
        engine["host"] = dict(host)
    scaled = scale_timeouts(scenario, time_scale)
    runs = [run_once(scaled, backend, i, show_progress, transport, time_scale, engine)
            for i in range(1, scenario.repeat + 1)]
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
    transport: httpx.BaseTransport | None = None, time_scale: float = 1.0,
    engine: Mapping[str, Any] | None = None,
) -> RunResult:
    """One run: launch, drive the steps, let collectors settle, judge (by the
    expectations that hold on ``engine``)."""
    try:
        with backend.launch(scenario, run) as session:
            evidence, step_failure = _drive(scenario, session, run, show_progress, transport, time_scale)
    except EngineLost as exc:
        if exc.run is None:
            raise EngineLost(exc.reason, run) from exc
        raise
    truth = ground_truth(evidence)  # derived once: the figures and every row read it
    run_figures = figures(evidence, truth)
    matrix = build_matrix(evidence, truth)
    failures = [f"run {run}: {step_failure}"] if step_failure else []
    expect = scenario.expect.for_engine(engine or {})
    failures += check_run(run, expect, run_figures, matrix, trace_requests(evidence))
    return RunResult(evidence, run_figures, matrix, failures)


def _drive(
    scenario: Scenario, session: TargetSession, run: int, show_progress: bool,
    transport: httpx.BaseTransport | None, time_scale: float = 1.0,
) -> tuple[RunEvidence, str | None]:
    deadline = time.monotonic() + scenario.run_timeout
    progress = ProgressLine(f"[{scenario.name} run {run}/{scenario.repeat}]", session.live)
    driver = StepDriver(session, scenario.target.health_path, deadline, transport,
                        on_phase=progress.set_phase if show_progress else lambda _: None, time_scale=time_scale)
    prober = HealthProber(session.probe_url, scenario.target.health_path, transport=transport,
                          timeout=PROBE_TIMEOUT_S * time_scale)
    failure: str | None = None
    if show_progress:
        progress.start()
    prober.start()
    try:
        try:
            driver.run(list(scenario.steps))
            driver.on_phase("settle")
            time.sleep(max(0.0, min(scenario.settle, deadline - time.monotonic())))
        except StepFailed as exc:
            failure = str(exc)
        # The probe goes on while the backend finishes (a monitoring stack's rules may
        # take a while to decide): a kill in that time is one it could see.
        found = session.finish()
    finally:
        probes = prober.stop()
        driver.close()
        if show_progress:
            progress.stop()
    # The backend's evidence and the runner's own (requests, marks, snapshots, probes)
    # make a new evidence object: neither is changed after it was handed over.
    combined = replace(
        found,
        observations=sorted(found.observations + request_observations(driver.requests) + outages(probes),
                            key=lambda o: o.t),
        requests=list(driver.requests), marks=list(driver.marks), snapshots=list(driver.snapshots),
        # The client and the probe are the runner's own: their statuses are the runner's.
        status={**found.status, "client": client_status(driver.requests), "health_probe": prober.status()},
        health_probes=len(probes), health_probe_failures=sum(1 for p in probes if not p.ok),
        health_probe_boot_failures=failures_before_first_answer(probes),
    )
    return replace(combined, observations=settle_console(combined, scenario.target.kill_log_patterns)), failure


def client_status(requests: Sequence[ClientRequest]) -> SourceStatus:
    """The client could have seen a kill only through a request it sent."""
    if not requests:
        return SourceStatus.unavailable("no request was sent (the scenario's steps send none)")
    return SourceStatus.ok()


def settle_console(evidence: RunEvidence, kill_log_patterns: Sequence[str] = ()) -> list[Observation]:
    """The run's observations with the scenario's own kill patterns applied to every
    console line, and of the lines no pattern knows only those nearest to a kill that no
    kill line reported (what the report shows there), so result.json stays small."""
    patterned = replace(evidence, observations=console_logs.apply_patterns(
        evidence.observations, console_logs.user_patterns(kill_log_patterns)))
    return trim_other_lines(patterned, console_logs.OTHER)
