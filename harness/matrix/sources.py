"""The matrix's sources, in table order, with what a platform's users read instead: the
Azure Container Apps analogue (the default, as in the reference labs) or the Kubernetes
one (``--platform kubernetes``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    id: str
    label: str
    azure_analogue: str


SOURCES: tuple[Source, ...] = (
    Source("cgroup", "cgroup OOM counter", "none: the platform does not expose the cgroup's oom_kill counter"),
    Source("kernel_log", "kernel log", "none: the node's kernel log is not exposed"),
    Source("engine_oom_event", "engine oom event", "none: no OOM event reaches ContainerAppSystemLogs_CL"),
    Source("engine_state", "engine State.OOMKilled", "replica state / Kubernetes lastState OOMKilled"),
    Source("lifecycle_events", "engine lifecycle events", "ContainerAppSystemLogs_CL"),
    Source("restart_count", "restart count", "RestartCount metric and replica restartCount"),
    Source("console_logs", "console logs", "ContainerAppConsoleLogs_CL"),
    Source("metric_1m_avg", "memory, 1-minute average", "WorkingSetBytes at PT1M"),
    Source("metric_highres", "memory, high resolution", "none: platform metrics are 1-minute"),
    Source("client", "client requests", "client responses through the ingress"),
    Source("health_probe", "health probe", "liveness/readiness probes"),
)

SOURCE_IDS: tuple[str, ...] = tuple(s.id for s in SOURCES)

# What a cluster's users read. Kubernetes 1.28 and later set memory.oom.group on cgroup v2,
# so one OOM kills the whole container: the sources that see only exits then see every OOM.
KUBERNETES_ANALOGUES: dict[str, str] = {
    "cgroup": "none: the counter is not exported per container (cAdvisor's container_oom_events_total "
              "counts the kernel log's reports)",
    "kernel_log": "the node's kernel log: node-problem-detector OOMKilling events, cAdvisor/kubelet "
                  "container_oom_events_total",
    "engine_oom_event": "none: the runtime's OOM event reaches no Kubernetes API",
    "engine_state": "kubectl describe Last State: OOMKilled, kube-state-metrics "
                    "kube_pod_container_status_last_terminated_reason (on exit only: with group kill, "
                    "every OOM)",
    "lifecycle_events": "pod events and the container's termination (on exit only: with group kill, every OOM)",
    "restart_count": "kube_pod_container_status_restarts_total, kubectl RESTARTS (on exit only: with group "
                     "kill, every OOM)",
    "console_logs": "kubectl logs (--previous after a restart)",
    "metric_1m_avg": "container_memory_working_set_bytes, scraped every 15-60 s",
    "metric_highres": "none: metrics are scraped every 15 s or more",
    "client": "client responses through the Service or ingress",
    "health_probe": "liveness/readiness probes (kubelet)",
}
PLATFORMS = ("azure", "kubernetes")


def analogue(source_id: str, platform: str = "azure", own: str = "") -> str:
    """What users of ``platform`` read for ``source_id``; for a row that is no signal
    source (an alerting rule's, whose analogue is the rule's origin), ``own``."""
    if source_id not in BY_ID:
        return own
    if platform == "kubernetes":
        return KUBERNETES_ANALOGUES[source_id]
    return BY_ID[source_id].azure_analogue
BY_ID = {s.id: s for s in SOURCES}
