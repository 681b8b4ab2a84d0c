"""The harness on a real cgroup v2 kernel with a current Docker: the shipped scenarios and
the OOM watch, in the guest that ``harness vm setup`` builds (Debian trixie, kernel 6.12,
docker.io 26 with the systemd cgroup driver)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from guest_testkit import IN_GUEST, PODMAN_IN_GUEST, ROOT, keep

from harness.scenario import load_scenario
from harness.vm.session import GuestSession

pytestmark = pytest.mark.vm


def test_the_oom_watch_sleeps_until_a_real_v2_kill_and_counts_it(guest: GuestSession) -> None:
    outcome = guest.check("oom_watch")
    assert outcome["cgroup"]["version"] == 2
    assert re.search(r"/system\.slice/docker-[0-9a-f]{64}\.scope$", outcome["cgroup"]["path"])
    assert outcome["detection"] == "poll(memory.events, POLLPRI)"
    assert outcome["idle"]["wakes"] == 0, "woken while nothing changed: the busy loop is back"
    assert outcome["kills"] == 1 == outcome["kernel_kills"]
    assert outcome["latency_ms"] and max(outcome["latency_ms"]) < 250
    assert outcome["passed"]


@pytest.mark.parametrize("name", IN_GUEST)
def test_shipped_scenario_passes_on_cgroup_v2_and_a_current_docker(guest: GuestSession, name: str) -> None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    result = guest.run(load_scenario(path), str(Path("scenarios") / path.name))
    keep(result)
    engine = result.engine
    assert engine["cgroup_version"] == "2" and engine["cgroup_driver"] == "systemd"
    assert int(engine["version"].split(".")[0]) >= 24
    assert engine["host"]["kind"] == "qemu guest"
    assert result.passed, "\n".join(result.failures)
    for run in result.runs:  # the collectors' CPU is a figure of bench/, not a pass condition here
        assert set(run.evidence.facts["collector_cpu_s"]) == {"memory_sampler", "oom_watch"}


@pytest.mark.podman
@pytest.mark.parametrize("name", PODMAN_IN_GUEST)
def test_shipped_scenario_passes_on_podman_on_cgroup_v2(guest: GuestSession, name: str) -> None:
    # Once each: Podman's verdicts are the finding, the run-to-run spread is Docker's tests'.
    path = ROOT / "scenarios" / f"{name}.yaml"
    result = guest.run(load_scenario(path, repeat=1), str(Path("scenarios") / path.name), engine="podman")
    keep(result, "podman")
    engine = result.engine
    assert engine["name"] == "podman" and int(engine["version"].split(".")[0]) >= 5
    assert engine["cgroup_version"] == "2"
    assert result.passed, "\n".join(result.failures)
    assert result.source("engine_oom_event").verdict == "unavailable"
