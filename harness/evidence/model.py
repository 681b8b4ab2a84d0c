"""Typed records of what was seen during one run.

Times are Unix seconds (float). Byte counts are ints. A value that a source could not
give is ``None`` plus a reason in :class:`SourceStatus`, never 0 or -1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.jsondata import Seconds6

if TYPE_CHECKING:
    from harness.evidence.alerts import AlertEvidence


@dataclass(frozen=True)
class Observation:
    """One timestamped thing a signal source reported.

    Attributes:
        source: a matrix source id (``cgroup``, ``console_logs``, ...).
        t: when it happened (the source's own timestamp where it has one).
        kind: what it is within the source (``oom_kill``, ``die``, ``sigkill_line`` ...).
        kill: True when this observation is that source's evidence of an OOM kill.
        detail: source-specific fields (pids, exit codes, the raw line ...).
    """

    source: str
    t: Seconds6
    kind: str
    kill: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Kill:
    """One ground-truth OOM kill, as the kernel's own counters and log tell it.

    With ``memory.oom.group`` set, one OOM kills every process of the cgroup: the victim
    the OOM killer chose is a kill, and each other process killed with it is a kill with
    ``group_member`` set. The matrix counts OOMs (the victims); the cgroup counter counts
    every process.
    """

    t: float
    victim_pid: int | None = None
    victim_name: str | None = None
    anon_rss_kb: int | None = None
    detected_at: float | None = None
    kernel_t: float | None = None
    group_member: bool = False  # killed with the victim because memory.oom.group is set

    @property
    def detection_latency_ms(self) -> float | None:
        """How long after the kernel logged the kill the harness noticed it."""
        if self.detected_at is None or self.kernel_t is None:
            return None
        return max(0.0, (self.detected_at - self.kernel_t) * 1000.0)


@dataclass(frozen=True)
class MemorySample:
    """One high-resolution memory reading of the container's cgroup; ``usage_bytes`` None
    marks the first reading that found the cgroup gone (the container between incarnations)."""

    t: float
    usage_bytes: int | None
    working_set_bytes: int | None


@dataclass(frozen=True)
class ClientRequest:
    """One request the client sent, and what came back.

    ``body`` keeps the first 300 characters of an answer with status 400 or more, so a
    report can show what a proxy told the client. ``error`` is one of ``reset``,
    ``empty_reply``, ``timeout``, ``connect``, ``5xx``, ``unexpected_status`` or None.
    """

    t: float
    step: str
    method: str
    path: str
    status: int | None
    error: str | None
    latency_ms: float
    request_id: str | None = None
    body: str | None = None  # the start of an error answer (a proxy's 502 page, say)


@dataclass(frozen=True)
class SourceStatus:
    """Whether a source could be read on this backend, and why not."""

    available: bool
    reason: str | None = None

    @classmethod
    def ok(cls) -> SourceStatus:
        return cls(True)

    @classmethod
    def unavailable(cls, reason: str) -> SourceStatus:
        return cls(False, reason)


@dataclass(frozen=True)
class ContainerState:
    """The engine's last view of the container (``docker inspect``'s State, when the run
    ended): what diagnose and the reports read of it. Every field may be unknown."""

    status: str | None = None
    exit_code: int | None = None
    oom_killed: bool | None = None
    restart_count: int | None = None
    pid: int | None = None
    started_at: str | None = None
    finished_at: str | None = None


#: The keys of ``result.json``'s ``facts`` that hold the typed facts below (their names
#: in the file are kept from before they were typed).
TYPED_FACT_KEYS = ("engine", "final_state", "snapshots", "health_probes", "health_probe_failures",
                   "health_probe_boot_failures")


@dataclass
class RunEvidence:
    """Everything one run of a scenario produced, backend-neutral.

    ``one_minute`` holds (minute start, average working set bytes) points: Azure reports
    them natively; the Docker backend derives them from the high-resolution samples.

    The typed facts are what backend-neutral code (the matrix's notes, diagnose, the
    pressure report) reads: ``engine_label`` names the engine whose own behaviour a note
    describes ("Docker 26.1.5"); ``final_state`` is the container's last state where the
    backend has one; ``snapshots`` are the runner's /diag snapshots; ``health_probes`` and
    ``health_probe_failures`` count the health probe's requests, and
    ``health_probe_boot_failures`` those that failed before the target first answered
    (its boot: no outage, but not dropped silently); ``alerts`` is what the
    run's monitoring stack did, when the scenario had one. ``facts`` holds the
    backend's own figures (container id, cgroup path, collector CPU), which only that
    backend's readers (and bench/) use.
    """

    run: int
    backend: str
    started_at: float
    ended_at: float
    memory_limit_bytes: int | None
    observations: list[Observation] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    status: dict[str, SourceStatus] = field(default_factory=dict)
    samples: list[MemorySample] = field(default_factory=list)
    highwater_bytes: int | None = None
    one_minute: list[tuple[float, float]] = field(default_factory=list)
    requests: list[ClientRequest] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    engine_label: str | None = None
    final_state: ContainerState | None = None
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    health_probes: int | None = None
    health_probe_failures: int | None = None
    health_probe_boot_failures: int | None = None
    alerts: AlertEvidence | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def of(self, source: str) -> list[Observation]:
        """Observations of one source, in time order."""
        return sorted((o for o in self.observations if o.source == source), key=lambda o: o.t)

    def available(self, source: str) -> bool:
        return self.status.get(source, SourceStatus.unavailable("not collected")).available

    def mark(self, label: str, t: float) -> None:
        """Record a phase boundary (step start) for reports and figures."""
        self.marks.append((t, label))
