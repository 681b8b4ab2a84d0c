"""Real alerting rules against real OOM kills: Prometheus, Alertmanager and node_exporter
in containers beside the target, on this machine's engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness.backends.docker.backend import DockerBackend, prepare_images
from harness.config import HarnessConfig
from harness.result import ScenarioResult
from harness.runner import run_scenario
from harness.scenario import load_scenario
from harness.scenario.catalog import resolve_scenario

pytestmark = pytest.mark.engine


def _run(name: str, client: docker.DockerClient, config: HarnessConfig) -> ScenarioResult:
    scenario = load_scenario(resolve_scenario(name))
    prepare_images(client, config, scenario, log=lambda line: None)
    return run_scenario(scenario, DockerBackend(client, config), show_progress=False)


def _alerts(result: ScenarioResult) -> dict[str, str]:
    return {row.source.removeprefix("alert:"): row.verdict for row in result.matrix if row.source.startswith("alert:")}


def test_a_worker_kill_pages_through_the_kernel_counters_only(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    result = _run("gradual-alerts", docker_client, harness_config)
    assert result.passed, result.failures
    assert _alerts(result) == {"HostOomKillDetected": "visible", "KubernetesContainerOomKiller": "gap",
                               "MultipleContainersOOMKilled": "gap", "KubePodCrashLooping": "gap",
                               "ContainerOomEvent": "visible", "NodeOomKill": "visible"}
    alerts = result.runs[0].evidence.alerts
    assert alerts is not None and alerts.status.available
    assert alerts.history_s >= 30 * 60  # HostOomKillDetected reads 30 minutes back
    print(f"gradual-alerts: {result.source('alert:ContainerOomEvent').note}; "
          f"{result.source('alert:NodeOomKill').note}")


def test_a_pid1_kill_pages_through_the_container_status_too(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    result = _run("pid1-oom-alerts", docker_client, harness_config)
    assert result.passed, result.failures
    verdicts = _alerts(result)
    assert verdicts["KubernetesContainerOomKiller"] == "visible"
    assert verdicts["ContainerOomEvent"] == "visible"
    assert verdicts["KubePodCrashLooping"] == "unavailable"  # pending: for: 15m is longer than the run
    print(f"pid1-oom-alerts: {result.source('alert:KubernetesContainerOomKiller').note}")


def test_a_rules_file_promtool_refuses_stops_the_run_before_it_starts(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, tmp_path: Path
) -> None:
    rules = tmp_path / "broken.yml"
    rules.write_text("groups:\n  - name: mine\n    rules:\n      - alert: Broken\n"
                     "        expr: increase(container_oom_events_total[5m) > 0\n")
    env = {**os.environ, "TESTCONTAINERS_RYUK_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-m", "harness", "run", "gradual", "--rules", str(rules), "--quiet",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"error: rules file refused by promtool: {rules}: 5:15: group \"mine\", rule 1, \"Broken\"" in done.stderr
    assert not (tmp_path / "out").exists()
    assert "[gradual" not in done.stderr  # no run started


def test_a_users_rule_runs_beside_the_shipped_ones(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, tmp_path: Path, no_leaks: None
) -> None:
    rules = tmp_path / "mine.yml"
    rules.write_text("groups:\n  - name: mine\n    rules:\n      - alert: PodRestarted\n"
                     "        expr: increase(kube_pod_container_status_restarts_total[5m]) > 0\n"
                     "      - alert: NotServedHere\n        expr: kube_pod_status_phase{phase=\"Failed\"} > 0\n")
    scenario = load_scenario(resolve_scenario("gradual"), repeat=1)
    from harness.scenario.monitoring import add_monitoring

    scenario = add_monitoring(scenario, "fast", [rules])
    prepare_images(docker_client, harness_config, scenario, log=lambda line: None)
    result = run_scenario(scenario, DockerBackend(docker_client, harness_config), show_progress=False)
    assert result.source("alert:PodRestarted").verdict == "gap"
    assert result.source("alert:PodRestarted").azure_analogue == "your rules: mine.yml"
    row = result.source("alert:NotServedHere")
    assert row.verdict == "unavailable" and row.note.startswith("reads kube_pod_status_phase: not produced here")
