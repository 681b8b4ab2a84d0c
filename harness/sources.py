"""The signal sources, declared once: what each is, what a platform's users read instead,
what its count note counts, and where a platform cannot have it.

The scenario schema (which ids ``expect.sources`` takes), the matrix (its rows, their
order and analogues, the notes), the Azure mapping (the sources the platform lacks) and
the fake backend read this list. Adding a source means one entry here and the collector
that produces its observations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One signal source of the matrix.

    Attributes:
        id: the id in scenario files, results and the matrix.
        title: a few words for people.
        azure: what Azure Container Apps users read for it (the default analogue).
        kubernetes: what a cluster's users read for it (``--platform kubernetes``).
        counts: what one kill observation of it is, for the matrix's notes ("3 restarts").
        absent_on_azure: why Azure Container Apps cannot have it, or "" where it can.
    """

    id: str
    title: str
    azure: str
    kubernetes: str
    counts: str = "observations"
    absent_on_azure: str = ""


# Kubernetes 1.28 and later set memory.oom.group on cgroup v2, so one OOM kills the whole
# container: the sources that see only exits then see every OOM.
SOURCES: tuple[Source, ...] = (
    Source("cgroup", "cgroup OOM counter",
           azure="none: the platform does not expose the cgroup's oom_kill counter",
           kubernetes="none: the counter is not exported per container (cAdvisor's container_oom_events_total "
                      "counts the kernel log's reports)",
           counts="oom_kill increments",
           absent_on_azure="Azure Container Apps does not expose the container's cgroup OOM counter"),
    Source("kernel_log", "kernel log",
           azure="none: the node's kernel log is not exposed",
           kubernetes="the node's kernel log: node-problem-detector OOMKilling events, cAdvisor/kubelet "
                      "container_oom_events_total",
           counts="OOM killer reports",
           absent_on_azure="Azure Container Apps does not expose the node's kernel log"),
    Source("engine_oom_event", "engine oom event",
           azure="none: no OOM event reaches ContainerAppSystemLogs_CL",
           kubernetes="none: the runtime's OOM event reaches no Kubernetes API",
           counts="oom events",
           absent_on_azure="Azure Container Apps publishes no OOM event"),
    Source("engine_state", "engine State.OOMKilled",
           azure="replica state / Kubernetes lastState OOMKilled",
           kubernetes="kubectl describe Last State: OOMKilled, kube-state-metrics "
                      "kube_pod_container_status_last_terminated_reason (on exit only: with group kill, "
                      "every OOM)",
           counts="OOMKilled exits"),
    Source("lifecycle_events", "engine lifecycle events",
           azure="ContainerAppSystemLogs_CL",
           kubernetes="pod events and the container's termination (on exit only: with group kill, every OOM)",
           counts="non-zero exits"),
    Source("restart_count", "restart count",
           azure="RestartCount metric and replica restartCount",
           kubernetes="kube_pod_container_status_restarts_total, kubectl RESTARTS (on exit only: with group "
                      "kill, every OOM)",
           counts="restarts"),
    Source("console_logs", "console logs",
           azure="ContainerAppConsoleLogs_CL",
           kubernetes="kubectl logs (--previous after a restart)",
           counts="kill lines"),
    Source("metric_1m_avg", "memory, 1-minute average",
           azure="WorkingSetBytes at PT1M",
           kubernetes="container_memory_working_set_bytes, scraped every 15-60 s"),
    Source("metric_highres", "memory, high resolution",
           azure="none: platform metrics are 1-minute",
           kubernetes="none: metrics are scraped every 15 s or more",
           absent_on_azure="Azure Monitor metrics are 1-minute at best"),
    Source("client", "client requests",
           azure="client responses through the ingress",
           kubernetes="client responses through the Service or ingress",
           counts="failed requests"),
    Source("health_probe", "health probe",
           azure="liveness/readiness probes",
           kubernetes="liveness/readiness probes (kubelet)",
           counts="outages"),
)


def source_ids() -> tuple[str, ...]:
    """Every source's id, in the matrix's order (read at call time, so a source declared
    later, by a test, is every reader's)."""
    return tuple(s.id for s in SOURCES)


def by_id(source_id: str) -> Source | None:
    """The declared source ``source_id``, or None for a row that is no signal source (an
    alerting rule's)."""
    return next((s for s in SOURCES if s.id == source_id), None)


def analogue(source_id: str, platform: str = "azure", own: str = "") -> str:
    """What users of ``platform`` read for ``source_id``; for a row that is no signal
    source (an alerting rule's, whose analogue is the rule's origin), ``own``."""
    source = by_id(source_id)
    if source is None:
        return own
    return source.kubernetes if platform == "kubernetes" else source.azure


def absent_on_azure() -> dict[str, str]:
    """The sources Azure Container Apps cannot have, with why."""
    return {s.id: s.absent_on_azure for s in SOURCES if s.absent_on_azure}
