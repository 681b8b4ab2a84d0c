"""What Podman 5 showed, from a recorded result: pid1-oom run once on Podman 5.4.2 in the
cgroup v2 guest (rootful, systemd driver). Its PID-1 OOM exits were flagged OOMKilled,
where Podman 4.3.1 on cgroup v1 flagged none; its event stream had no oom event."""

from __future__ import annotations

from pathlib import Path

from harness.result import load_result
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "tests" / "data" / "results" / "pid1-oom-podman5.json"


def test_podman_5_flags_each_pid1_oom_exit_and_has_no_oom_event() -> None:
    result = load_result(RESULT)
    engine = result.engine
    assert (engine["name"], engine["version"], engine["cgroup_version"]) == ("podman", "5.4.2", "2")
    assert (result.source("engine_state").verdict, result.source("engine_state").kills_seen) == ("visible", 4)
    assert result.source("engine_oom_event").verdict == "unavailable"
    assert "no oom event" in result.source("engine_oom_event").note
    assert (result.source("lifecycle_events").kills_seen, result.source("restart_count").kills_seen) == (4, 3)


def test_the_podman_condition_of_pid1_oom_applies_to_4_only() -> None:
    expect = load_scenario(ROOT / "scenarios" / "pid1-oom.yaml").expect
    podman5 = load_result(RESULT).engine
    assert "visible" in expect.for_engine(podman5).allowed_verdicts("engine_state")
    podman4 = {"name": "podman", "version": "4.3.1", "cgroup_version": "1"}
    assert expect.for_engine(podman4).allowed_verdicts("engine_state") == ("gap",)
