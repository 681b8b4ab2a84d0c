"""The shipped scenarios on the real engine reproduce the reference lab's matrix."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from harness.backends.docker.backend import DockerBackend
from harness.config import HarnessConfig
from harness.result import ScenarioResult
from harness.runner import run_scenario
from harness.scenario import load_scenario

pytestmark = pytest.mark.engine
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _run(name: str, client: docker.DockerClient, config: HarnessConfig) -> ScenarioResult:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    return run_scenario(scenario, DockerBackend(client, config), show_progress=False)


def test_gradual_reproduces_the_seed_matrix(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    result = _run("gradual", docker_client, harness_config)
    assert result.passed, result.failures
    assert len(result.runs) == 3
    for run in result.runs:
        assert run.figures.oom_kills >= 1
        assert run.source("cgroup").verdict == "visible"
        assert run.source("console_logs").verdict == "visible"
        assert run.source("lifecycle_events").verdict == "gap"
        assert run.source("restart_count").verdict == "gap"
        assert run.source("client").verdict == "gap"
        assert run.source("health_probe").verdict == "gap"
        assert run.source("metric_1m_avg").verdict in ("partial", "gap")
        # The kill lands just under the limit: baseline plus allocations reach 0.5 GiB.
        assert run.figures.kill_threshold_mb is not None and 400 <= run.figures.kill_threshold_mb <= 512
        assert run.figures.killed_pids and run.figures.replacement_pids
    # As in the lab, every run is killed at the same allocation.
    assert len({r.figures.kill_threshold_mb for r in result.runs}) == 1


def test_spike_breaks_the_client_connection(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    result = _run("spike", docker_client, harness_config)
    assert result.passed, result.failures
    for run in result.runs:
        assert run.source("client").verdict == "visible"
        assert set(run.figures.client_error_kinds) <= {"empty_reply", "reset"}
        assert run.source("lifecycle_events").verdict == "gap"
