"""A real DockerSession on this machine's engine: one spike kill seen by every source that
can see it, every collector's status its own, and every collector's thread ended when the
evidence is returned."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import docker
import httpx
import pytest

from harness.backends.docker.backend import DockerBackend
from harness.config import HarnessConfig
from harness.evidence import SourceStatus
from harness.scenario import parse_scenario

pytestmark = pytest.mark.engine


def _until(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_session_sees_a_worker_kill_and_ends_every_collector_thread(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    scenario = parse_scenario({
        "name": "session-spike", "target": {"image": "labapp", "process": {"workers": 1, "threads": 4}},
        "limits": {"memory": "256m"}, "steps": ["wait_healthy"]}, "session-spike.yaml")
    backend = DockerBackend(docker_client, harness_config)
    with backend.launch(scenario, 1) as session:
        _until(lambda: _healthy(session.base_url), 30, "the app to answer")
        with pytest.raises(httpx.HTTPError):  # the request's worker dies mid-request
            httpx.post(f"{session.base_url}/spike", json={"mb": 400}, timeout=60)
        _until(lambda: session.live().kills >= 1, 10, "the OOM watch")
        _until(lambda: session.console.kill_lines >= 1, 10, "the followed log stream")
        evidence = session.finish()
        threads = [part.thread for part in (session.oom, session.sampler, session.state, session.events,
                                            session.console)]
        assert not [thread.name for thread in threads if thread.alive]
        assert session.kmsg.thread.alive  # the kernel log runs until the launch ends
    assert not session.kmsg.thread.alive

    sources = ["cgroup", "engine_oom_event", "lifecycle_events", "engine_state", "restart_count", "console_logs",
               "metric_highres", "metric_1m_avg"]
    kmsg_readable = os.access("/dev/kmsg", os.R_OK)
    if kmsg_readable:
        sources.append("kernel_log")
    assert {s: evidence.status[s] for s in sources} == {s: SourceStatus.ok() for s in sources}
    kills = {(o.source, o.kind) for o in evidence.observations if o.kill}
    assert {("cgroup", "oom_kill"), ("engine_oom_event", "oom"), ("console_logs", "sigkill_line")} <= kills
    assert len(evidence.of("cgroup")) == 1
    assert evidence.facts["oom_detection"] in ("eventfd(memory.oom_control)", "poll(memory.events, POLLPRI)")
    assert evidence.facts["console_log_lines"] > 0 and evidence.samples
    if kmsg_readable:
        (kill,) = evidence.kills
        assert kill.victim_pid is not None and kill.detection_latency_ms is not None
