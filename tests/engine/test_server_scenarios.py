"""Issue 14's shipped scenarios on the real engine: the uWSGI and uvicorn variants of
gradual, the worker timeout whose console log lies, the lab's advice as experiments, and a
user's own image with and without a kill pattern of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.backends.docker.backend import DockerBackend
from harness.cli import main
from harness.compare import compare
from harness.config import HarnessConfig
from harness.diagnose import OTHER, diagnose
from harness.result import ScenarioResult, load_result
from harness.runner import run_scenario
from harness.scenario import Scenario, load_scenario, parse_scenario

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
EXAMPLE = ROOT / "examples" / "own-image"
EXAMPLE_IMAGE = "oom-harness/example-asgi:latest"

Run = Callable[[Scenario], ScenarioResult]


@pytest.fixture
def run(docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None) -> Run:
    backend = DockerBackend(docker_client, harness_config)
    return lambda scenario: run_scenario(scenario, backend, show_progress=False)


def shipped(name: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{name}.yaml")


def _kill_lines(result: ScenarioResult) -> list[Any]:
    return [o for run in result.runs for o in run.evidence.of("console_logs") if o.kill]


@pytest.mark.parametrize(("name", "kind", "pattern"), [
    ("gradual-uwsgi", "uwsgi_kill", "uWSGI"),
    ("gradual-uvicorn", "uvicorn_died", "uvicorn"),
])
def test_the_console_sees_the_worker_kill_under_each_server(run: Run, name: str, kind: str, pattern: str) -> None:
    result = run(shipped(name))
    assert result.passed, result.failures
    assert result.source("console_logs").verdict == "visible"
    assert result.source("lifecycle_events").verdict == "gap"
    lines = _kill_lines(result)
    assert lines and {(o.kind, o.detail["pattern"]) for o in lines} == {(kind, pattern)}
    figures = result.runs[0].figures
    assert figures.oom_kills >= 1
    # The line's PID is the killed worker's, and a new worker took its place.
    assert figures.killed_pids == [o.detail["pid"] for o in lines][: len(figures.killed_pids)]
    assert figures.replacement_pids


def test_the_worker_timeout_console_is_misleading_and_diagnose_says_not_memory(
    docker_client: docker.DockerClient, no_leaks: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "worker-timeout"
    assert main(["run", str(SCENARIOS / "worker-timeout.yaml"), "--out", str(out), "--quiet"]) == 0
    result = load_result(out)
    console = result.source("console_logs")
    assert (console.verdict, console.kills_seen, console.ground_truth_kills, console.false_claims) == \
        ("misleading", 0, 0, 1)
    assert result.runs[0].figures.oom_kills == 0
    assert {o.kind for o in result.runs[0].evidence.of("console_logs")} >= {"worker_timeout", "sigkill_line"}
    diagnosis = diagnose(result)
    assert diagnosis.conclusion == OTHER
    assert "gunicorn's --timeout (3 s)" in diagnosis.advice[0]
    capsys.readouterr()
    assert main(["diagnose", str(out)]) == 0
    text = capsys.readouterr().out
    assert "conclusion: cause other than memory" in text and "WORKER TIMEOUT" in text


def test_max_requests_removes_the_per_request_leaks_kills_and_headroom_does_not(run: Run) -> None:
    leak, recycled, roomy = (run(shipped(name)) for name in
                             ("leak-per-request", "leak-per-request-max-requests", "leak-per-request-1gi"))
    for result in (leak, recycled, roomy):
        assert result.passed, (result.scenario, result.failures)
    assert leak.runs[0].figures.oom_kills >= 2 and recycled.runs[0].figures.oom_kills == 0
    recycling = compare(leak, recycled)
    assert [c.path for c in recycling.changes] == ["target.process.max_requests", "target.process.max_requests_jitter"]
    assert "The change removed the failure." in recycling.verdict
    headroom = compare(leak, roomy)
    assert [c.path for c in headroom.changes] == ["limits.memory"]
    assert "The change did not remove the failure" in headroom.verdict
    assert roomy.runs[0].figures.oom_kills < leak.runs[0].figures.oom_kills
    first = [r.runs[0].figures.time_to_oom_s for r in (leak, roomy)]
    assert first[0] is not None and first[1] is not None and first[1] > first[0]


@pytest.fixture(scope="module")
def example_image(docker_client: docker.DockerClient, harness_config: HarnessConfig) -> str:
    """The user's image of examples/own-image, built on the lab image (no registry here)."""
    docker_client.images.build(path=str(EXAMPLE), tag=EXAMPLE_IMAGE, rm=True, forcerm=True,
                               buildargs={"BASE_IMAGE": harness_config.image},
                               labels={harness_config.label: "example"})
    return EXAMPLE_IMAGE


def test_a_users_uvicorn_image_needs_no_pattern(run: Run, example_image: str) -> None:
    result = run(load_scenario(EXAMPLE / "own-image.yaml"))
    assert result.passed, result.failures
    assert {o.kind for o in _kill_lines(result)} == {"uvicorn_died"}


def test_a_users_own_supervisor_needs_its_pattern(run: Run, example_image: str) -> None:
    with_pattern = load_scenario(EXAMPLE / "own-image-shell.yaml")
    result = run(with_pattern)
    assert result.passed, result.failures
    assert {o.kind for o in _kill_lines(result)} == {"user_kill_line"}
    data = with_pattern.model_dump(mode="json", by_alias=True)
    data["target"]["kill_log_patterns"] = []
    without = run(parse_scenario(data, "own-image-shell-without-pattern.yaml"))
    assert without.source("console_logs").verdict == "gap"
    near = [o.detail["line"] for o in without.runs[0].evidence.of("console_logs") if o.kind == "line"]
    assert any("server exited with status 137" in line for line in near)
