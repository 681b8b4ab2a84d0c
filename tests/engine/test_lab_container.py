"""The lab image in real, memory-limited containers: real kernel OOM kills."""

from __future__ import annotations

import time

import docker
import httpx
import pytest

from harness import cgroupfs
from harness.backends.docker.container import ContainerSpec, LabContainer
from harness.config import HarnessConfig

pytestmark = pytest.mark.engine
MIB = 1024 * 1024


def _spec(config: HarnessConfig, command: list[str], memory_mb: int, **kw) -> ContainerSpec:  # type: ignore[no-untyped-def]
    return ContainerSpec(
        image=config.image, port=8080, command=command, env={}, memory_bytes=memory_mb * MIB,
        memory_swap_bytes=memory_mb * MIB, nano_cpus=None, restart_policy=kw.get("restart"),
        labels={config.label: "test", f"{config.label}.owner": config.owner},
    )


def _wait_healthy(url: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url}/health never answered")


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


GUNICORN_ONE_GTHREAD = ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "1", "--worker-class", "gthread",
                        "--threads", "4", "--timeout", "120", "harness.lab.app:app"]


def test_spike_above_limit_kills_the_worker_not_the_container(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    with LabContainer(docker_client, _spec(harness_config, GUNICORN_ONE_GTHREAD, 256)) as lab:
        url = f"http://127.0.0.1:{lab.host_port()}"
        first_pid = _wait_healthy(url)["pid"]
        cgroup = cgroupfs.for_pid(int(lab.inspect()["State"]["Pid"]))
        assert cgroup is not None, "the container's memory cgroup was not found from the host"
        before = cgroup.oom_kills().value
        assert before == 0

        with pytest.raises(httpx.HTTPError):  # the request's worker dies mid-request
            httpx.post(f"{url}/spike", json={"mb": 400}, timeout=60)

        _wait_for(lambda: cgroup.oom_kills().value == before + 1, 10, "the cgroup OOM counter")
        assert lab.inspect()["State"]["Status"] == "running"
        after = httpx.get(f"{url}/memory", timeout=30).json()
        assert after["pid"] != first_pid
        logs = lab.container.logs().decode()  # type: ignore[union-attr]
        assert f"Worker (pid:{first_pid}) was sent SIGKILL! Perhaps out of memory?" in logs


def test_pid1_hard_oom_exits_137(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    command = ["python3", "-m", "harness.lab.pid1", "--hard-mb", "400"]
    with LabContainer(docker_client, _spec(harness_config, command, 256)) as lab:
        _wait_for(lambda: lab.inspect()["State"]["Status"] == "exited", 60, "the container to exit")
        state = lab.inspect()["State"]
        assert state["ExitCode"] == 137
        assert state["OOMKilled"] is True


def test_container_is_removed_when_the_block_fails(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None
) -> None:
    container_id = None
    with pytest.raises(RuntimeError):
        with LabContainer(docker_client, _spec(harness_config, GUNICORN_ONE_GTHREAD, 128)) as lab:
            container_id = lab.id
            raise RuntimeError("a test failing half way")
    assert container_id is not None
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container_id)
