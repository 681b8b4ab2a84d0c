"""The matrix's sources, in table order, with their Azure Container Apps analogues."""

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
BY_ID = {s.id: s for s in SOURCES}
