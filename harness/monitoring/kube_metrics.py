"""The metrics users alert on, for the run's container, computed the way their producers
compute them (pure functions; the live values come from the harness's collectors).

What each follows, and where this differs:

- ``container_oom_events_total`` follows cAdvisor 0.47 (kubelet 1.24 and later,
  ``/metrics/cadvisor``): cAdvisor's oomparser reads the kernel log and counts one event
  per OOM (its ``oom-kill:`` line), keyed by the victim's memory cgroup (``task_memcg``),
  so a worker killed inside a running container counts. With ``memory.oom.group`` the
  other processes killed with the victim have no ``oom-kill:`` line: one event per OOM.
  Difference: on Kubernetes a restart creates a new container whose series starts at 0,
  and a PID-1 OOM's count can be lost with the old container (cAdvisor PR #3278); here the
  Docker container survives its restarts and keeps its count.
- ``container_memory_working_set_bytes`` follows cAdvisor: usage minus inactive file
  pages, read from the container's cgroup (the memory sampler's latest reading).
- ``kube_pod_container_status_restarts_total``, ``..._last_terminated_reason`` and
  ``..._waiting_reason`` follow kube-state-metrics 2.x, which copies the pod's container
  status. The status is what a kubelet on containerd reports: the restart count; the last
  termination's reason is ``OOMKilled`` when the kernel OOM-killed any process of the
  container during the incarnation that exited (containerd's CRI plugin marks the
  container on its OOM event and keeps the mark at the exit), ``Error`` for another
  non-zero exit, ``Completed`` for exit 0; ``CrashLoopBackOff`` while the container waits
  to be started again after a failed exit. Differences: the restart count and exits come
  from Docker (its restart policy, not a kubelet's back-off of 10 s and more, so a wait is
  shorter here); a container that Docker gave up restarting is reported as a kubelet
  would keep reporting it, waiting in CrashLoopBackOff. Only the current waiting reason is
  a series, as in kube-state-metrics 2.x.

A value whose source cannot be read is None and its series is absent from the page, never
0: a rule that reads it is then judged unavailable, not a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The namespace the run's "pod" is reported in.
NAMESPACE = "oom-harness"
#: The container's name in the pod, as a kubelet labels it.
CONTAINER = "app"

#: What it means that a served metric has no series: kube-state-metrics writes a
#: termination's reason only after a termination, a waiting reason only while waiting.
ABSENCE_MEANS: dict[str, str] = {
    "kube_pod_container_status_last_terminated_reason": "no series: the container never terminated",
    "kube_pod_container_status_waiting_reason": "no series: the container was never waiting",
}

#: What each metric is computed from: every group needs one of its matrix sources
#: available (the termination reason needs the exits, and the kills from the kernel log
#: or the cgroup counter).
METRIC_NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "container_oom_events_total": (("kernel_log",),),
    "container_memory_working_set_bytes": (("metric_highres",),),
    "kube_pod_container_status_restarts_total": (("engine_state",),),
    "kube_pod_container_status_last_terminated_reason": (("lifecycle_events",), ("kernel_log", "cgroup")),
    "kube_pod_container_status_waiting_reason": (("engine_state",),),
    "kube_pod_container_status_waiting": (("engine_state",),),
}


@dataclass(frozen=True)
class Identity:
    """The labels a kubelet and kube-state-metrics put on the container's series."""

    pod: str
    image: str
    namespace: str = NAMESPACE
    container: str = CONTAINER


@dataclass(frozen=True)
class KubeView:
    """The container as the metrics producers see it at one moment; None is unknown."""

    identity: Identity
    oom_events: int | None
    working_set_bytes: int | None
    restarts: int | None
    last_terminated_reason: str | None  # None: never terminated, or unknown
    waiting_reason: str | None
    engine_readable: bool = True
    exits_readable: bool = True


@dataclass(frozen=True)
class Exit:
    """One exit of the container's main process: when, and its code."""

    t: float
    exit_code: int


def fresh_view(identity: Identity) -> KubeView:
    """A pod whose container has not started yet: nothing killed, no restart, no exit."""
    return KubeView(identity, oom_events=0, working_set_bytes=None, restarts=0, last_terminated_reason=None,
                    waiting_reason=None)


def oom_events(victim_times: Sequence[float]) -> int:
    """cAdvisor's count: one per OOM the kernel logged for the container (its victims,
    not the processes a group kill took with them)."""
    return len(victim_times)


def termination_reason(exit_code: int, oom_during_incarnation: bool) -> str:
    """The reason a kubelet on containerd gives an exit."""
    if oom_during_incarnation:
        return "OOMKilled"
    return "Completed" if exit_code == 0 else "Error"


def last_terminated_reason(exits: Sequence[Exit], starts: Sequence[float], kill_times: Sequence[float]) -> str | None:
    """The last exit's reason: OOMKilled when any OOM kill fell in the incarnation that
    ended there (from its start to the exit; a kill logged a moment after the exit is the
    exit's own). None before the first exit."""
    if not exits:
        return None
    last = max(exits, key=lambda e: e.t)
    began = max((s for s in starts if s < last.t), default=float("-inf"))
    oom = any(began - 0.05 <= k <= last.t + 0.5 for k in kill_times)
    return termination_reason(last.exit_code, oom)


def waiting_reason(status: str | None, last_exit_code: int | None, restarts: int | None) -> str | None:
    """CrashLoopBackOff while the container is down after a failed exit and would be
    started again: Docker's "restarting", or an exited container that had restarted
    before (a kubelet with restartPolicy Always goes on restarting it)."""
    if status == "restarting":
        return "CrashLoopBackOff"
    if status in ("exited", "dead") and last_exit_code not in (None, 0) and (restarts or 0) >= 1:
        return "CrashLoopBackOff"
    return None


def _labels(pairs: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(pairs.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_cadvisor(view: KubeView) -> str:
    """The kubelet's ``/metrics/cadvisor`` page for the container (text exposition)."""
    ident = view.identity
    labels = _labels({"namespace": ident.namespace, "pod": ident.pod, "container": ident.container,
                      "image": ident.image})
    lines: list[str] = []
    if view.oom_events is not None:
        lines += ["# HELP container_oom_events_total Count of out of memory events observed for the container",
                  "# TYPE container_oom_events_total counter",
                  f"container_oom_events_total{labels} {view.oom_events}"]
    if view.working_set_bytes is not None:
        lines += ["# HELP container_memory_working_set_bytes Current working set in bytes.",
                  "# TYPE container_memory_working_set_bytes gauge",
                  f"container_memory_working_set_bytes{labels} {view.working_set_bytes}"]
    return "\n".join(lines) + "\n"


def render_kube_state(view: KubeView) -> str:
    """kube-state-metrics' page for the container's status (text exposition)."""
    ident = view.identity
    base = {"namespace": ident.namespace, "pod": ident.pod, "container": ident.container, "uid": ident.pod}
    lines: list[str] = []
    if view.engine_readable and view.restarts is not None:
        lines += ["# HELP kube_pod_container_status_restarts_total The number of container restarts per container.",
                  "# TYPE kube_pod_container_status_restarts_total counter",
                  f"kube_pod_container_status_restarts_total{_labels(base)} {view.restarts}"]
    if view.exits_readable and view.last_terminated_reason is not None:
        lines += ["# HELP kube_pod_container_status_last_terminated_reason Describes the last reason the container "
                  "was in terminated state.",
                  "# TYPE kube_pod_container_status_last_terminated_reason gauge",
                  f"kube_pod_container_status_last_terminated_reason"
                  f"{_labels({**base, 'reason': view.last_terminated_reason})} 1"]
    if view.engine_readable:
        waiting = view.waiting_reason
        lines += ["# HELP kube_pod_container_status_waiting Describes whether the container is currently in "
                  "waiting state.",
                  "# TYPE kube_pod_container_status_waiting gauge",
                  f"kube_pod_container_status_waiting{_labels(base)} {1 if waiting else 0}"]
        if waiting:
            lines += ["# HELP kube_pod_container_status_waiting_reason Describes the reason the container is "
                      "currently in waiting state.",
                      "# TYPE kube_pod_container_status_waiting_reason gauge",
                      f"kube_pod_container_status_waiting_reason{_labels({**base, 'reason': waiting})} 1"]
    return "\n".join(lines) + "\n"
