"""Engine events and engine state, fed with events and inspects recorded from Docker 20.10."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from recorded_inputs import Recorded

from harness.collectors.engine_events import EngineEventsCollector, event_to_observation
from harness.collectors.engine_state import StateTracker


def _observations(recorded: Recorded, name: str) -> list[tuple[str, str, bool, dict[str, Any]]]:
    found = [event_to_observation(e) for e in recorded.events(name)]
    return [(o.source, o.kind, o.kill, dict(o.detail)) for o in found if o is not None]


def test_a_worker_kill_shows_only_as_an_oom_event(recorded: Recorded) -> None:
    assert _observations(recorded, "gunicorn_spike") == [
        ("lifecycle_events", "create", False, {}),
        ("lifecycle_events", "start", False, {}),
        ("engine_oom_event", "oom", True, {}),
    ]


def test_a_pid1_kill_dies_with_137_every_time(recorded: Recorded) -> None:
    found = _observations(recorded, "pid1_restart")
    dies = [o for o in found if o[1] == "die"]
    assert dies == [("lifecycle_events", "die", True, {"exit_code": 137})] * 3
    assert [o[1] for o in found].count("start") == 3
    assert [o[1] for o in found].count("oom") == 3


def test_event_time_comes_from_time_nano(recorded: Recorded) -> None:
    event = recorded.events("gunicorn_spike")[2]
    obs = event_to_observation(event)
    assert obs is not None and obs.t == event["timeNano"] / 1e9
    without_nano = {k: v for k, v in event.items() if k != "timeNano"}
    obs = event_to_observation(without_nano)
    assert obs is not None and obs.t == float(event["time"])


def test_exit_code_zero_is_no_kill_and_kill_carries_its_signal(recorded: Recorded) -> None:
    die = copy.deepcopy(recorded.events("pid1_restart")[3])
    assert die["Action"] == "die"
    die["Actor"]["Attributes"]["exitCode"] = "0"
    obs = event_to_observation(die)
    assert obs is not None and (obs.kind, obs.kill, obs.detail) == ("die", False, {"exit_code": 0})
    kill = copy.deepcopy(die)
    kill["Action"] = kill["status"] = "kill"
    kill["Actor"]["Attributes"]["signal"] = "15"
    obs = event_to_observation(kill)
    assert obs is not None and (obs.kind, obs.kill, obs.detail) == ("kill", False, {"signal": "15"})


@pytest.mark.parametrize("action", ["destroy", "attach", "exec_start: sh", "health_status: healthy", ""])
def test_other_actions_are_ignored(recorded: Recorded, action: str) -> None:
    event = dict(recorded.events("gunicorn_spike")[0], Action=action, status=action)
    assert event_to_observation(event) is None


def test_events_collector_calls_on_die_after_each_die(recorded: Recorded) -> None:
    dies: list[int] = []
    collector = EngineEventsCollector(iter(recorded.events("pid1_restart")), on_die=lambda: dies.append(1))
    collector.start()
    collector.stop()
    assert len(collector.snapshot()) == 10
    assert len(dies) == 3


def test_events_collector_calls_on_oom_after_each_oom_event(recorded: Recorded) -> None:
    ooms: list[int] = []
    collector = EngineEventsCollector(iter(recorded.events("pid1_restart")), on_oom=lambda: ooms.append(1))
    collector.start()
    collector.stop()
    assert len(ooms) == sum(1 for o in collector.snapshot() if o.kind == "oom") == 3


def test_a_docker_26_exit_missed_behind_its_restart_still_counts_once() -> None:
    """Docker 26 clears OOMKilled when the container starts again: an incarnation whose exit
    no inspection caught counts by the flag read at its oom event, once."""
    tracker = StateTracker()
    def state(started: str, flag: bool, running: bool, finished: str = "0001-01-01T00:00:00Z") -> dict[str, object]:
        return {"State": {"StartedAt": started, "OOMKilled": flag, "Running": running, "Restarting": False,
                          "FinishedAt": finished, "ExitCode": 0}, "RestartCount": 0}
    found = tracker.update(state("a", False, True), 0.0)
    found += tracker.update(state("a", True, True), 1.0)  # inspected at the oom event
    found += tracker.update(state("b", False, True, "2026-12-06T21:00:01Z"), 1.5)  # already restarted
    assert [(o.kind, o.kill) for o in found] == [("oom_flag_running", True)]


def test_state_tracker_counts_each_oom_exit_once_and_every_restart(recorded: Recorded) -> None:
    tracker = StateTracker()
    found = []
    for attrs in recorded.inspects("pid1_restart"):
        found += tracker.update(attrs, 0.0)
        found += tracker.update(attrs, 0.0)  # inspected again: nothing new
    # Docker 20.10 keeps OOMKilled true while the restarted container runs again; the
    # tracker keys on FinishedAt, so each exit counts once.
    assert [(o.source, o.detail["exit_code"]) for o in found if o.kind == "oom_killed"] == [
        ("engine_state", 137)] * 3
    assert [o.detail["restart_count"] for o in found if o.kind == "restart"] == [1, 2]
    assert tracker.last["status"] == "exited" and tracker.last["restart_count"] == 2


def test_state_tracker_baseline_and_jumps(recorded: Recorded) -> None:
    first, *_, last = recorded.inspects("pid1_restart")
    tracker = StateTracker()
    assert [o.kind for o in tracker.update(last, 1.0)] == ["oom_killed"]  # no restarts before the baseline
    tracker = StateTracker()
    assert tracker.update(dict(first, RestartCount=5), 1.0) == []  # the first look is the baseline
    jumped = tracker.update(dict(first, RestartCount=7), 2.0)
    assert [o.detail["restart_count"] for o in jumped] == [7, 7]


def test_state_tracker_on_a_running_worker_kill_sees_nothing(recorded: Recorded) -> None:
    tracker = StateTracker()
    assert tracker.update(recorded.inspect("gunicorn_spike"), 1.0) == []
    assert tracker.last == {
        "status": "running", "exit_code": 0, "oom_killed": False, "restart_count": 0, "pid": 3781,
        "started_at": "2026-11-21T16:34:54.131888395Z", "finished_at": "0001-01-01T00:00:00Z",
    }


def test_state_tracker_sees_the_supervisor_exit_as_oom_killed(recorded: Recorded) -> None:
    tracker = StateTracker()
    found = [o for attrs in recorded.inspects("supervisor") for o in tracker.update(attrs, 1.0)]
    assert [(o.kind, o.detail["exit_code"]) for o in found] == [("oom_killed", 1)]


# --- Docker 26.1.5 in the cgroup v2 guest -------------------------------------------------


def test_a_flag_already_set_when_an_incarnation_is_first_seen_is_stale(recorded: Recorded) -> None:
    """Docker 20.10 keeps the flag of the last exit after a restart: not a new kill."""
    tracker = StateTracker()
    assert tracker.update(recorded.inspects("guest_v2/worker_kill")[-1], 1.0) == []


def test_docker_26_flags_a_worker_kill_while_the_container_runs(recorded: Recorded) -> None:
    tracker = StateTracker()
    found = [o for attrs in recorded.inspects("guest_v2/worker_kill") for o in tracker.update(attrs, 1.0)]
    assert [(o.kind, o.kill) for o in found] == [("oom_flag_running", True)]
    assert tracker.last["status"] == "running" and tracker.last["oom_killed"] is True


def test_docker_26_flags_a_machine_wide_oom_kill_too(recorded: Recorded) -> None:
    tracker = StateTracker()
    found = [o for attrs in recorded.inspects("guest_v2/global_oom") for o in tracker.update(attrs, 1.0)]
    assert [(o.kind, o.kill) for o in found] == [("oom_flag_running", True)]


def test_a_group_kill_is_an_oom_killed_exit(recorded: Recorded) -> None:
    tracker = StateTracker()
    found = [o for attrs in recorded.inspects("guest_v2/group_kill") for o in tracker.update(attrs, 1.0)]
    assert [(o.kind, o.kill, o.detail["exit_code"]) for o in found] == [("oom_killed", True, 137)]


def test_one_incarnation_flagged_running_then_exiting_is_one_kill(recorded: Recorded) -> None:
    running, running_flagged = recorded.inspects("guest_v2/worker_kill")
    exited = recorded.inspects("guest_v2/group_kill")[-1]
    # The worker's container, had its PID 1 then been killed too: the same StartedAt.
    exit_of_same = dict(exited, State={**exited["State"], "StartedAt": running_flagged["State"]["StartedAt"]})
    tracker = StateTracker()
    found = [o for attrs in (running, running_flagged, exit_of_same) for o in tracker.update(attrs, 1.0)]
    assert [(o.kind, o.kill) for o in found] == [("oom_flag_running", True), ("oom_killed", False)]
    assert found[1].detail["already_flagged_running"] is True


def test_an_oom_exit_seen_only_after_the_restart_still_counts_once(recorded: Recorded) -> None:
    """The recorded inspections without the ones that caught the container between its exit
    and its restart: what a slow inspection sees when the restart policy is quicker."""
    inspects = recorded.inspects("pid1_restart")
    quick_restarts = [attrs for attrs in inspects if attrs["State"]["Status"] != "restarting"]
    assert len(quick_restarts) == len(inspects) - 2
    tracker = StateTracker()
    found = []
    for attrs in quick_restarts:
        found += tracker.update(attrs, 0.0)
        found += tracker.update(attrs, 0.0)  # inspected again: nothing new
    exits = [o for o in found if o.kind == "oom_killed"]
    assert [o.kill for o in exits] == [True, True, True]
    assert [o.detail.get("seen_after_restart", False) for o in exits] == [True, True, False]
    assert len({o.detail["finished_at"] for o in exits}) == 3


def test_a_first_look_at_a_fresh_container_counts_no_exit(recorded: Recorded) -> None:
    first = recorded.inspects("pid1_restart")[0]
    flagged = dict(first, State=dict(first["State"], OOMKilled=True))
    assert [o.kind for o in StateTracker().update(flagged, 0.0)] == []  # FinishedAt is 0001-01-01
