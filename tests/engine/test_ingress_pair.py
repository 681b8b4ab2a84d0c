"""A real HAProxy in front of the lab app: retries on, one request kills several workers;
retries off, exactly one. The reference lab's kill-restart loop, settled by experiment."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import pytest

from harness.attempts import trace_requests
from harness.backends.docker.ingress import IngressProxy, PrivateNetwork
from harness.compare import compare
from harness.config import HarnessConfig
from harness.errors import EngineError
from harness.pytest_plugin import HarnessSession
from harness.result import ScenarioResult
from harness.runner import run_scenario
from harness.scenario import load_scenario

pytestmark = pytest.mark.engine
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _run(name: str, session: HarnessSession) -> ScenarioResult:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    return run_scenario(scenario, session.backend(scenario), show_progress=False)


@pytest.fixture(scope="module")
def pair(oom_harness_session: HarnessSession) -> tuple[ScenarioResult, ScenarioResult]:
    """(retries off, retries on), each run once on the real engine."""
    return _run("spike-ingress", oom_harness_session), _run("spike-ingress-retry", oom_harness_session)


def _spike_traces(result: ScenarioResult):  # type: ignore[no-untyped-def]
    return [t for run in result.runs for t in trace_requests(run.evidence) if t.step == "spike"]


def test_retries_on_one_client_request_kills_more_than_one_worker(
    pair: tuple[ScenarioResult, ScenarioResult], no_leaks: None
) -> None:
    _, on = pair
    assert on.passed, on.failures
    for trace in _spike_traces(on):
        assert trace.kills is not None and trace.kills > 1
        # Every kill followed an attempt the proxy sent; nothing re-sent it behind the proxy.
        assert trace.attempts == trace.sent_by_proxy == trace.kills
        assert trace.client_status == 502 and trace.proxy_termination == "SH--"
    assert sum(run.figures.oom_kills for run in on.runs) > 1


def test_retries_off_one_client_request_kills_exactly_one(
    pair: tuple[ScenarioResult, ScenarioResult], no_leaks: None
) -> None:
    off, _ = pair
    assert off.passed, off.failures
    for trace in _spike_traces(off):
        assert (trace.attempts, trace.kills, trace.sent_by_proxy) == (1, 1, 1)
        assert trace.client_status == 502 and trace.body and "502 Bad Gateway" in trace.body
    assert [run.figures.oom_kills for run in off.runs] == [1] * len(off.runs)


def test_compare_says_the_retrying_ingress_explains_the_kills(pair: tuple[ScenarioResult, ScenarioResult]) -> None:
    comparison = compare(*pair)
    assert [c.path for c in comparison.changes] == ["ingress.retries"]
    assert comparison.per_request_verdict is not None
    assert comparison.per_request_verdict.startswith("The data supports the retrying-ingress explanation")


def test_the_health_probe_bypasses_the_ingress(pair: tuple[ScenarioResult, ScenarioResult]) -> None:
    off, _ = pair
    facts = off.runs[0].evidence.facts["ingress"]
    assert facts["retries"] == 0 and facts["url"].startswith("http://127.0.0.1:")
    proxy_paths = {o.detail["path"] for o in off.runs[0].evidence.of("ingress")}
    # wait_healthy goes through the proxy like any client request; the prober's 0.5 s
    # probes go straight to the app, so the proxy saw far fewer health checks than the app.
    app_health = [o for o in off.runs[0].evidence.of("console_logs")
                  if o.kind == "request_start" and o.detail["path"] == "/health"]
    proxy_health = [o for o in off.runs[0].evidence.of("ingress") if o.detail["path"] == "/health"]
    assert "/spike" in proxy_paths
    assert len(app_health) > len(proxy_health)


def test_a_proxy_that_cannot_start_is_an_engine_error_and_leaves_nothing(
    docker_client: docker.DockerClient, harness_config: HarnessConfig,
    oom_harness_session: HarnessSession, no_leaks: None,
) -> None:
    oom_harness_session.prepare_ingress_image()
    labels = {harness_config.label: "test", f"{harness_config.label}.owner": harness_config.owner}
    with PrivateNetwork(docker_client, f"oom-harness-test-{os.getpid()}", labels) as network:
        with pytest.raises(EngineError, match="the ingress proxy exited with code"):
            with IngressProxy(docker_client, harness_config.ingress_image, network.name,
                              "global\n    no-such-keyword\n", labels):
                pass  # pragma: no cover - the proxy never starts


def test_clean_removes_labelled_networks(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    from harness.backends.docker.owner import remove_labelled

    labels = {harness_config.label: "test", f"{harness_config.label}.owner": harness_config.owner}
    docker_client.networks.create(f"oom-harness-left-{os.getpid()}", labels=labels)
    removed = remove_labelled(docker_client, harness_config.label, (harness_config.owner_label,))
    assert removed == [f"network:oom-harness-left-{os.getpid()}"]
