"""The metrics users alert on, computed as cAdvisor and kube-state-metrics compute them."""

from __future__ import annotations

from harness.monitoring.kube_metrics import (
    Exit,
    Identity,
    KubeView,
    fresh_view,
    last_terminated_reason,
    oom_events,
    render_cadvisor,
    render_kube_state,
    termination_reason,
    waiting_reason,
)
from harness.monitoring.prometheus import parse_exposition

POD = Identity(pod="oom-harness-abc", image="oom-harness/labapp:latest")


def test_a_worker_kill_counts_and_leaves_the_status_alone() -> None:
    # gradual: one OOM, no exit, no restart.
    view = KubeView(POD, oom_events=oom_events([10.0]), working_set_bytes=33_554_432, restarts=0,
                    last_terminated_reason=last_terminated_reason([], [0.0], [10.0]),
                    waiting_reason=waiting_reason("running", None, 0))
    cadvisor = {(name, labels): value for name, labels, value in parse_exposition(render_cadvisor(view))}
    labels = '{container="app",image="oom-harness/labapp:latest",namespace="oom-harness",pod="oom-harness-abc"}'
    assert cadvisor[("container_oom_events_total", labels)] == "1"
    assert cadvisor[("container_memory_working_set_bytes", labels)] == "33554432"
    state = parse_exposition(render_kube_state(view))
    assert [name for name, _, _ in state] == ["kube_pod_container_status_restarts_total",
                                              "kube_pod_container_status_waiting"]


def test_an_oom_exit_is_oomkilled_and_a_restart_counts() -> None:
    # pid1-oom: the kernel's kill at 1.62 s, the engine's die event 30 ms later, restarted.
    reason = last_terminated_reason([Exit(1.65, 137)], [0.0, 1.8], [1.62])
    view = KubeView(POD, 1, None, 1, reason, waiting_reason("running", 137, 1))
    state = {(name, labels): value for name, labels, value in parse_exposition(render_kube_state(view))}
    base = 'container="app",namespace="oom-harness",pod="oom-harness-abc",uid="oom-harness-abc"'
    assert state[("kube_pod_container_status_restarts_total", "{" + base + "}")] == "1"
    assert state[("kube_pod_container_status_last_terminated_reason",
                  '{container="app",namespace="oom-harness",pod="oom-harness-abc",reason="OOMKilled",'
                  'uid="oom-harness-abc"}')] == "1"


def test_the_reason_is_the_incarnations_own() -> None:
    # An OOM in the first incarnation does not make the second one's plain exit OOMKilled.
    assert last_terminated_reason([Exit(5.0, 137), Exit(20.0, 1)], [0.0, 5.2], [4.98]) == "Error"
    assert last_terminated_reason([Exit(20.0, 0)], [0.0], []) == "Completed"
    # containerd marks the container on any OOM of it: a worker killed earlier in the
    # incarnation makes a later non-zero exit OOMKilled.
    assert last_terminated_reason([Exit(20.0, 1)], [0.0], [8.0]) == "OOMKilled"
    assert termination_reason(0, True) == "OOMKilled"
    assert last_terminated_reason([], [0.0], [1.0]) is None


def test_crashloopbackoff_while_waiting_to_be_started_again() -> None:
    assert waiting_reason("restarting", 137, 1) == "CrashLoopBackOff"
    assert waiting_reason("exited", 137, 3) == "CrashLoopBackOff"  # a kubelet would go on restarting it
    assert waiting_reason("exited", 137, 0) is None
    assert waiting_reason("exited", 0, 2) is None
    assert waiting_reason("running", 137, 2) is None


def test_a_source_that_cannot_be_read_leaves_its_series_out() -> None:
    view = KubeView(POD, oom_events=None, working_set_bytes=None, restarts=None, last_terminated_reason=None,
                    waiting_reason=None, engine_readable=False)
    assert parse_exposition(render_cadvisor(view)) == []
    assert parse_exposition(render_kube_state(view)) == []


def test_the_fresh_pod_before_its_container_starts() -> None:
    view = fresh_view(POD)
    names = [name for name, _, _ in parse_exposition(render_cadvisor(view) + render_kube_state(view))]
    assert names == ["container_oom_events_total", "kube_pod_container_status_restarts_total",
                     "kube_pod_container_status_waiting"]
