"""A run's key figures: kill threshold, PIDs, time to OOM, true vs averaged peak.

Computed from the evidence alone, so they come out the same for any backend that
fills the same observations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.evidence import RunEvidence
from harness.matrix.build import true_peak_bytes
from harness.matrix.claims import pair_kill_lines
from harness.matrix.truth import GroundTruth, ground_truth
from harness.units import MIB


@dataclass(frozen=True)
class RunFigures:
    """The numbers a reader of the matrix asks for next."""

    oom_kills: int
    ground_truth_source: str
    kill_threshold_mb: float | None = None
    kill_rss_mb: float | None = None
    killed_pids: list[int] = field(default_factory=list)
    replacement_pids: list[int] = field(default_factory=list)
    time_to_oom_s: float | None = None
    peak_mb: float | None = None
    peak_highres_mb: float | None = None
    peak_1m_avg_mb: float | None = None
    detection_latency_ms: list[float] = field(default_factory=list)
    client_errors: int = 0
    client_error_kinds: dict[str, int] = field(default_factory=dict)
    health_failures: int = 0
    exit_codes: list[int] = field(default_factory=list)
    memory_errors: int = 0
    failure_mode: str = "none"  # oom_kill | memory_error | both | none


def figures(evidence: RunEvidence, truth: GroundTruth | None = None) -> RunFigures:
    """Compute a run's key figures from its evidence."""
    truth = truth or ground_truth(evidence)
    kills, source, first_kill = truth.count, truth.source, truth.first
    threshold, rss = _threshold(evidence, first_kill)
    peak = true_peak_bytes(evidence)
    sampled = max((s.usage_bytes or 0 for s in evidence.samples), default=0)
    errors = [r for r in evidence.requests if r.error]
    memory_errors = sum(1 for o in evidence.of("console_logs") if o.kind == "memory_error")
    kinds: dict[str, int] = {}
    for r in errors:
        kinds[str(r.error)] = kinds.get(str(r.error), 0) + 1
    return RunFigures(
        oom_kills=kills,
        ground_truth_source=source,
        kill_threshold_mb=threshold,
        kill_rss_mb=rss,
        killed_pids=_killed_pids(evidence),
        replacement_pids=[int(o.detail["pid"]) for o in evidence.of("console_logs")
                          if o.kind in ("worker_boot", "supervisor_start") and first_kill and o.t >= first_kill],
        time_to_oom_s=_time_to_oom(evidence, first_kill),
        peak_mb=_mb(peak),
        peak_highres_mb=_mb(sampled) if sampled else None,
        peak_1m_avg_mb=_mb(max((avg for _, avg in evidence.one_minute), default=None)),
        detection_latency_ms=[round(k.detection_latency_ms, 1) for k in evidence.kills
                              if k.detection_latency_ms is not None],
        client_errors=len(errors),
        client_error_kinds=kinds,
        health_failures=sum(1 for o in evidence.of("health_probe") if o.kill),
        exit_codes=[int(o.detail["exit_code"]) for o in evidence.of("lifecycle_events") if o.kind == "die"],
        memory_errors=memory_errors,
        failure_mode=failure_mode(kills, memory_errors),
    )


def failure_mode(kills: int, memory_errors: int) -> str:
    """How memory ran out: the kernel killed a process, Python raised MemoryError
    (an address-space limit), both, or neither."""
    if kills and memory_errors:
        return "both"
    if kills:
        return "oom_kill"
    return "memory_error" if memory_errors else "none"


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def _threshold(evidence: RunEvidence, first_kill: float | None) -> tuple[float | None, float | None]:
    """Allocated MB and RSS in the last progress line before the first kill; for a spike,
    the size asked for. Falls back to the victim's anon RSS from the kernel log."""
    if first_kill is None:
        return None, None
    before = [o for o in evidence.of("console_logs") if o.kind in ("progress", "spike") and o.t <= first_kill + 0.05]
    kernel_rss = next((k.anon_rss_kb / 1024 for k in evidence.kills if k.anon_rss_kb), None)
    if not before:
        return None, round(kernel_rss, 1) if kernel_rss else None
    last = before[-1]
    allocated = last.detail.get("allocated_mb", last.detail.get("mb"))
    rss = last.detail.get("rss_mb") or kernel_rss
    return (float(allocated) if allocated is not None else None), (round(float(rss), 1) if rss else None)


def _killed_pids(evidence: RunEvidence) -> list[int]:
    """The killed workers' PIDs as the console's kill lines name them (only the lines
    that reported a real OOM kill), else the kernel's victims."""
    lines = [int(o.detail["pid"]) for o in pair_kill_lines(evidence).true_lines if isinstance(o.detail.get("pid"), int)]
    return lines or [k.victim_pid for k in evidence.kills if k.victim_pid is not None]


def _time_to_oom(evidence: RunEvidence, first_kill: float | None) -> float | None:
    """From the first load step (an HTTP call or burst) to the first kill."""
    if first_kill is None:
        return None
    # Marks are labelled "<index>:<step kind>:<name or path>".
    loads = [t for t, label in evidence.marks if label.split(":")[1:2] in (["http"], ["burst"])]
    start = min(loads, default=evidence.started_at)
    return round(first_kill - start, 2)
