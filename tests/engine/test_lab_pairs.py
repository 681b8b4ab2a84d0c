"""Each reference lab's pair reproduces its verdict: failure in A, absent in B, and the
changed variable named (the labs' falsification step)."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from harness.backends.docker.backend import DockerBackend
from harness.compare import compare
from harness.config import HarnessConfig
from harness.pressure import pressure_report
from harness.result import ScenarioResult
from harness.runner import run_scenario
from harness.scenario import load_scenario

pytestmark = pytest.mark.engine
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture
def run(docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None):  # type: ignore[no-untyped-def]
    backend = DockerBackend(docker_client, harness_config)

    def run_file(name: str) -> ScenarioResult:
        return run_scenario(load_scenario(SCENARIOS / f"{name}.yaml"), backend, show_progress=False)

    return run_file


def test_pid1_restart_loop_closes_the_gap_and_more_memory_fixes_it(run) -> None:  # type: ignore[no-untyped-def]
    failing, fixed = run("pid1-oom"), run("pid1-oom-fixed")
    assert failing.passed, failing.failures
    assert fixed.passed, fixed.failures
    figures = failing.runs[0].figures
    assert figures.oom_kills == 4
    assert figures.exit_codes == [137, 137, 137, 137]
    assert failing.source("lifecycle_events").verdict == "visible"
    assert failing.source("engine_state").verdict == "visible"
    comparison = compare(failing, fixed)
    assert comparison.verdict.startswith("Failure present in A, absent in B")
    assert [c.path for c in comparison.changes if not c.is_procedure] == ["limits.memory"]


def test_pressure_without_oom(run) -> None:  # type: ignore[no-untyped-def]
    result = run("pressure")
    assert result.passed, result.failures
    report = pressure_report(result.runs[0].evidence)
    assert report is not None
    assert report.snapshots == ["baseline", "mid-leak", "post-heavy"]
    assert report.verdict == "pressure present, failure not yet"
    assert "no swap" in report.swap
    assert sum(row["errors_5xx"] for row in report.latency) == 0


def test_blob_buffering_crash_loops_and_streaming_does_not(run) -> None:  # type: ignore[no-untyped-def]
    buffering, streaming = run("blob-buffering"), run("blob-streaming")
    assert buffering.passed, buffering.failures
    assert streaming.passed, streaming.failures
    assert buffering.runs[0].figures.failure_mode == "oom_kill"
    kinds = [o.kind for o in buffering.runs[0].evidence.of("console_logs")]
    assert "supervisor_exit" in kinds and "supervisor_start" in kinds
    comparison = compare(buffering, streaming)
    assert comparison.verdict.startswith("Failure present in A, absent in B")
    changed = {c.path for c in comparison.changes}
    assert "target.env.LABAPP_BLOB_CONCURRENCY" in changed


def test_address_space_limit_gives_memory_error_not_a_kill(run) -> None:  # type: ignore[no-untyped-def]
    result = run("blob-buffering-rlimit")
    assert result.passed, result.failures
    figures = result.runs[0].figures
    assert figures.oom_kills == 0
    assert figures.failure_mode == "memory_error" and figures.memory_errors >= 1
