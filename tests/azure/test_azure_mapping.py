"""Mapping Azure's records to observations: which rows are kill evidence, and restart counting."""

from __future__ import annotations

from harness.backends.azure.exported import ContainerState, LogRow, MetricPoint, MetricSeries, ReplicaState
from harness.backends.azure.mapping import (
    Collected,
    build_evidence,
    console_observations,
    restart_observations,
    system_observations,
)


def row(reason: str, log: str, t: float = 100.0, **extra: str) -> LogRow:
    return LogRow(t, {"Reason_s": reason, "Log_s": log, "Type_s": "Warning", **extra})


def restart_series(*values: float | None) -> MetricSeries:
    points = [MetricPoint(60.0 * i, {} if v is None else {"maximum": v}) for i, v in enumerate(values)]
    return MetricSeries("RestartCount", "Count", 60, points)


def replica(count: int, name: str = "r1", details: str | None = None) -> ReplicaState:
    return ReplicaState(name, 0.0, "Running", [ContainerState("lab", count, "Running", details)])


def test_a_137_termination_is_a_kill_with_its_exit_code() -> None:
    (obs,) = system_observations([row(
        "ContainerTerminated", "Container 'ca' was terminated with exit code '137' and reason 'ProcessExited'")])
    assert (obs.source, obs.kind, obs.kill, obs.detail["exit_code"]) == ("lifecycle_events", "die", True, 137)


def test_a_clean_termination_and_deployment_rows_are_not_kills() -> None:
    found = system_observations([
        row("ContainerTerminated", "Container 'ca' was terminated with exit code '0' and reason 'Completed'"),
        row("ContainerStarted", "Started container 'ca'"), row("PullingImage", "Pulling image 'x'")])
    assert [o.kill for o in found] == [False, False, False]
    assert [o.kind for o in found] == ["die", "ContainerStarted", "PullingImage"]


def test_a_termination_without_an_exit_code_counts_as_a_kill() -> None:
    (obs,) = system_observations([row("ContainerTerminated", "Container 'ca' was terminated")])
    assert obs.kill and "exit_code" not in obs.detail


def test_oomkilled_rows_are_engine_state_evidence_too() -> None:
    found = system_observations([
        row("OOMKilled", "Container 'ca' was OOM killed"),
        row("ContainerTerminated", "Container 'ca' was terminated with exit code '137' and reason 'OOMKilled'"),
        row("ContainerTerminated", "Container 'ca' was terminated with exit code '137' and reason 'ProcessExited'"),
    ])
    assert [(o.source, o.kill) for o in found if o.source == "engine_state"] == [("engine_state", True)] * 2
    assert sum(o.kill for o in found if o.source == "lifecycle_events") == 3


def test_a_row_standing_for_repeated_events_counts_each() -> None:
    found = system_observations([row("ContainerTerminated", "exit code '137'", Count_d="3")])
    assert len(found) == 3 and all(o.kill for o in found)


def test_console_rows_use_the_shared_line_parser_timed_by_time_generated() -> None:
    obs, other = console_observations([
        LogRow(500.0, {"Log_s": "[2026-04-10 14:08:14 +0000] [1] [ERROR] Worker (pid:7) was sent SIGKILL! "
                                "Perhaps out of memory?"}),
        LogRow(501.0, {"Log_s": "unrelated"})])
    assert (obs.source, obs.kind, obs.kill) == ("console_logs", "sigkill_line", True)
    assert (obs.t, obs.detail["pid"]) == (500.0, 7)
    # Kept for a scenario's own kill patterns; the runner drops it when none wants it.
    assert (other.kind, other.kill, other.t, other.detail) == ("line", False, 501.0, {"line": "unrelated"})


def test_a_flat_restart_metric_is_no_evidence_even_when_it_is_not_zero() -> None:
    # The reference lab: max 1.0 at two minutes, nothing in between, the container never restarted.
    assert [o for o in restart_observations(restart_series(None, 1.0, None, 1.0), None, None, 900.0) if o.kill] == []


def test_each_step_up_of_the_restart_metric_is_a_restart() -> None:
    found = restart_observations(restart_series(0.0, 1.0, 1.0, 3.0), None, None, 900.0)
    assert [o.t for o in found] == [60.0, 180.0, 180.0]


def test_replica_restarts_add_only_what_the_metric_did_not_show() -> None:
    found = restart_observations(restart_series(0.0, 1.0), [replica(0)], [replica(3)], 900.0)
    kills = [o.kind for o in found if o.kill]
    assert kills == ["metric_increase", "replica_restart", "replica_restart"]
    snapshot = [o for o in found if not o.kill]
    assert snapshot[0].detail["restart_count"] == 3


def test_replicas_count_from_their_first_look_and_new_replicas_from_zero() -> None:
    found = restart_observations(None, [replica(2)], [replica(2), replica(1, name="r2")], 900.0)
    assert sum(o.kill for o in found) == 1


def test_what_azure_does_not_have_is_unavailable_with_a_reason_not_zero() -> None:
    evidence = build_evidence(Collected(console_rows=[], reasons={"system_rows": "no --system-logs file given"}),
                              1, "azure", 0.0, 60.0, None)
    for source in ("cgroup", "kernel_log", "engine_oom_event", "metric_highres"):
        assert not evidence.status[source].available and evidence.status[source].reason
    assert evidence.status["lifecycle_events"].reason == "no --system-logs file given"
    assert evidence.status["console_logs"].available
    assert not evidence.status["metric_1m_avg"].available


def test_replica_state_details_saying_oomkilled_are_engine_state_evidence() -> None:
    evidence = build_evidence(Collected(replicas=[replica(1, details="OOMKilled")]), 1, "azure", 0.0, 60.0, None)
    assert [o.kind for o in evidence.of("engine_state")] == ["oom_killed"]
