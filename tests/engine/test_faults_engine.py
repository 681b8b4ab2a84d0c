"""The fast part of the fault bench, on this machine's engine: gradual run once (as a user
runs it, ``python -m harness run``) under each fault, and judged on its exit code, false
gaps, leaks and result set. ``bench/run.py --faults`` runs 5 per fault here and 2 in the
guest; the figures are in the README."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from harness.backends.docker.reaper import ensure_reaper, reaper_disabled
from harness.config import HarnessConfig
from harness.faults.inject import FAULTS
from harness.faults.judge import trials_data
from harness.faults.trial import run_faults
from harness.pytest_plugin import in_ci

pytestmark = pytest.mark.engine


def test_gradual_under_every_fault_ends_clearly_with_no_false_gap_and_no_leak(
    tmp_path: Path, docker_client: docker.DockerClient, harness_config: HarnessConfig,
) -> None:
    faults = [name for name in FAULTS if name != "none"]
    trials = run_faults(faults, ["gradual"], 1, tmp_path, docker_client, harness_config, log=lambda line: None)
    failed = trials_data(t for t in trials if not t.ok)
    assert not failed, failed
    by_fault = {t.fault: t for t in trials}
    assert by_fault["none"].exit_code == 0 and by_fault["none"].kills
    # The engine's restart voids the run: exit 2 with the reason, and no result set.
    restart = by_fault["engine-restart"]
    assert (restart.exit_code, restart.result) == (2, "absent")
    assert any("lost the engine during the run" in note for note in restart.notes)
    assert any(note.endswith("records written to /dev/kmsg") for note in by_fault["kmsg-flood"].notes)
    assert len([t for t in trials if t.fault == "two-at-once"]) == 2


@pytest.mark.skipif(reaper_disabled() and not in_ci(), reason="the reaper is turned off (TESTCONTAINERS_RYUK_DISABLED)")
def test_a_session_whose_reaper_died_gets_another(
    docker_client: docker.DockerClient, harness_config: HarnessConfig,
) -> None:
    """An engine restart stops the session's reaper; the next container the session starts
    must not go unprotected."""
    name = ensure_reaper(docker_client, harness_config, log=lambda line: None)
    assert name is not None
    first = docker_client.containers.get(name)
    first.kill()  # what the engine's restart does to it
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if docker_client.containers.get(name).status != "running":
                break
        except docker.errors.NotFound:
            break
        time.sleep(0.2)
    again = ensure_reaper(docker_client, harness_config, log=lambda line: None)
    second = docker_client.containers.get(again or "")
    assert second.id != first.id and second.status == "running"
