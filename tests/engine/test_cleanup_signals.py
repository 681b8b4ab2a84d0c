"""Nothing of a run outlives the harness, whatever ends it (real engine, real signals).

Each test starts ``harness run`` in a child process on a scenario with an ingress (a
network, the app and the proxy), waits until the proxy exists, ends the child and looks
for anything still carrying the child's owner label.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.config import HarnessConfig
from harness.procs import process_identity

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
#: The reaper's reconnection time-out (testcontainers' default) and a margin for the removal.
REAPER_TIMEOUT_S = 10.0
TINY = """\
target: {image: labapp}
limits: {memory: 128Mi}
settle: 0s
steps: [wait_healthy]
"""


def _start(tmp_path: Path, scenario: str, reaper: bool) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "TESTCONTAINERS_RYUK_DISABLED": "false" if reaper else "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", scenario, "--quiet", "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        start_new_session=True)
    time.sleep(0.3)
    return proc, process_identity(proc.pid)


def _owned(client: docker.DockerClient, label: str, owner: str) -> list[str]:
    owner_filter = {"label": f"{label}.owner={owner}"}
    containers = [c.name for c in client.containers.list(all=True, filters=owner_filter, ignore_removed=True)]
    return containers + [f"network:{n.name}" for n in client.networks.list(filters=owner_filter)]


def _wait_for_proxy(client: docker.DockerClient, label: str, owner: str, proc: subprocess.Popen[str]) -> None:
    _wait_for_roles(client, label, owner, proc, {"ingress"})


def _wait_for_roles(
    client: docker.DockerClient, label: str, owner: str, proc: subprocess.Popen[str], roles: set[str]
) -> None:
    """Until the run has containers of every role (``ingress``, ``run``, ``monitoring``)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kinds = {c.labels.get(label) for c in client.containers.list(
            all=True, filters={"label": f"{label}.owner={owner}"}, ignore_removed=True)}
        if roles <= kinds:
            return
        assert proc.poll() is None, f"the run ended early: {proc.stderr.read() if proc.stderr else ''}"
        time.sleep(0.1)
    pytest.fail(f"the run's {', '.join(sorted(roles))} containers never appeared")


def _kill_9_mid_run(
    client: docker.DockerClient, config: HarnessConfig, tmp_path: Path, sweep: list[str], reaper: bool
) -> str:
    """Start a spike-ingress run, SIGKILL it once its proxy exists; its owner label."""
    proc, owner = _start(tmp_path, "spike-ingress", reaper=reaper)
    sweep.append(owner)
    _wait_for_proxy(client, config.label, owner, proc)
    assert _owned(client, config.label, owner)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return owner


@pytest.fixture
def sweep(docker_client: docker.DockerClient, harness_config: HarnessConfig) -> Iterator[list[str]]:
    """Owners whose leftovers are removed after the test, whatever it asserted."""
    owners: list[str] = []
    yield owners
    for owner in owners:
        flt = {"label": f"{harness_config.label}.owner={owner}"}
        for container in docker_client.containers.list(all=True, filters=flt, ignore_removed=True):
            container.remove(force=True, v=True)
        for network in docker_client.networks.list(filters=flt):
            network.remove()


@pytest.mark.parametrize("signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,), (signal.SIGHUP,)],
                         ids=["ctrl-c twice", "sigterm", "sighup"])
def test_a_signal_during_a_run_leaves_nothing_at_once(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, tmp_path: Path, sweep: list[str],
    signals: tuple[signal.Signals, ...],
) -> None:
    proc, owner = _start(tmp_path, "spike-ingress", reaper=False)  # no reaper: the harness's own clean-up
    sweep.append(owner)
    _wait_for_proxy(docker_client, harness_config.label, owner, proc)
    for signum in signals:
        os.kill(proc.pid, signum)
        time.sleep(0.1)
    assert proc.wait(timeout=60) == 130
    assert _owned(docker_client, harness_config.label, owner) == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGKILL,)],
                         ids=["ctrl-c twice", "kill -9 with the reaper"])
def test_a_monitored_run_leaves_no_part_of_its_stack(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, tmp_path: Path, sweep: list[str],
    signals: tuple[signal.Signals, ...],
) -> None:
    """Prometheus, Alertmanager and node_exporter (host network) go with the run."""
    reaper = signals == (signal.SIGKILL,)
    proc, owner = _start(tmp_path, "gradual-alerts", reaper=reaper)
    sweep.append(owner)
    _wait_for_roles(docker_client, harness_config.label, owner, proc, {"monitoring", "run"})
    stack = [name for name in _owned(docker_client, harness_config.label, owner) if "-prometheus" in name]
    assert stack, "no Prometheus container"
    for signum in signals:
        os.kill(proc.pid, signum)
        time.sleep(0.1)
    code = proc.wait(timeout=60)
    wait_s = REAPER_TIMEOUT_S + 20 if reaper else 0.0
    ended = time.monotonic()
    while _owned(docker_client, harness_config.label, owner) and time.monotonic() - ended < wait_s:
        time.sleep(0.2)
    assert _owned(docker_client, harness_config.label, owner) == []
    assert code == (-signal.SIGKILL if reaper else 130)
    assert not (tmp_path / "out").exists()


def test_kill_9_leaves_nothing_once_the_reaper_timed_out(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, tmp_path: Path, sweep: list[str],
) -> None:
    owner = _kill_9_mid_run(docker_client, harness_config, tmp_path, sweep, reaper=True)
    killed = time.monotonic()
    while _owned(docker_client, harness_config.label, owner) and time.monotonic() - killed < REAPER_TIMEOUT_S + 20:
        time.sleep(0.2)
    took = time.monotonic() - killed
    assert _owned(docker_client, harness_config.label, owner) == [], f"still there {took:.1f} s after kill -9"
    assert took >= REAPER_TIMEOUT_S - 1  # removed by the reaper, after its time-out
    print(f"kill -9: everything removed {took:.1f} s later")


def test_with_the_reaper_off_the_next_start_removes_a_killed_runs_leftovers(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, tmp_path: Path, sweep: list[str],
) -> None:
    owner = _kill_9_mid_run(docker_client, harness_config, tmp_path, sweep, reaper=False)
    left = _owned(docker_client, harness_config.label, owner)
    assert any(name.startswith("network:") for name in left) and len(left) >= 3
    # A live owner's container (this test process's) must survive the next start.
    mine = docker_client.containers.run(
        harness_config.image, ["sleep", "120"], detach=True, mem_limit="32m",
        labels={harness_config.label: "test", f"{harness_config.label}.owner": harness_config.owner,
                f"{harness_config.label}.user": harness_config.user})
    try:
        (tmp_path / "tiny.yaml").write_text(TINY)
        env = {**os.environ, "TESTCONTAINERS_RYUK_DISABLED": "true"}
        done = subprocess.run([sys.executable, "-m", "harness", "run", "tiny.yaml", "--quiet", "--out", "tiny"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
        assert done.returncode == 0, done.stderr
        assert f"removed {len(left)} leftover(s) of a harness that was killed" in done.stderr
        assert _owned(docker_client, harness_config.label, owner) == []
        mine.reload()
        assert mine.status == "running"
    finally:
        mine.remove(force=True)


def test_clean_removes_this_users_only_unless_all(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, tmp_path: Path,
) -> None:
    label = harness_config.label
    made = [docker_client.containers.run(
        harness_config.image, ["sleep", "120"], detach=True, mem_limit="32m",
        labels={label: "test", f"{label}.user": user, f"{label}.scenario": f"clean-{tmp_path.name}"})
        for user in (harness_config.user, "99999")]
    try:
        env = {**os.environ, "TESTCONTAINERS_RYUK_DISABLED": "true"}
        mine = subprocess.run([sys.executable, "-m", "harness", "clean"], capture_output=True, text=True, env=env)
        assert mine.returncode == 0 and made[0].name in mine.stdout and made[1].name not in mine.stdout
        made[1].reload()
        every = subprocess.run([sys.executable, "-m", "harness", "clean", "--all"], capture_output=True, text=True,
                               env=env)
        assert every.returncode == 0 and made[1].name in every.stdout
    finally:
        for container in made:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
