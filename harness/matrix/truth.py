"""The ground truth of a run's kills, derived once from its evidence.

How many OOM kills happened, when, which processes, and which source says so: the cgroup
counter and the kernel log are the ground truth; a backend that has neither (a cloud
platform) estimates it from the source that showed the most kills. The figures, the
matrix's rows (the memory series' drops, the alerting rules' latencies), the pairing of
console kill lines with kills and the per-request traces all read this one object, so
they cannot disagree about what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import sources
from harness.evidence import Kill, RunEvidence

#: The sources whose kills are measured, not estimated.
MEASURED_BY = ("cgroup", "kernel_log")


@dataclass(frozen=True)
class GroundTruth:
    """What happened in one run.

    Attributes:
        count: the OOM kills (a group kill's other victims are not OOMs of their own).
        source: ``cgroup`` or ``kernel_log``, or ``estimated from <source>`` (``none``
            where no source showed anything).
        measured: the count comes from the cgroup counter or the kernel log, so a source
            can be judged against it.
        kills: the OOMs' victims, in time order (empty where estimated).
        times: when the kills happened, in order: the victims' times, else the kill
            observations of the source the count was estimated from.
    """

    count: int
    source: str
    measured: bool
    kills: tuple[Kill, ...]
    times: tuple[float, ...]

    @property
    def first(self) -> float | None:
        """When the first kill happened, if any."""
        return self.times[0] if self.times else None


def ground_truth(evidence: RunEvidence) -> GroundTruth:
    """Derive the run's ground truth from its evidence."""
    ooms = tuple(sorted((k for k in evidence.kills if not k.group_member), key=lambda k: k.t))
    measured = next((s for s in MEASURED_BY if evidence.available(s)), None)
    if measured is not None:
        times = tuple(k.t for k in ooms) if evidence.kills else _observed_kill_times(evidence, measured)
        return GroundTruth(len(ooms), measured, True, ooms, times)
    counts = {s.id: len(_observed_kill_times(evidence, s.id)) for s in sources.SOURCES if evidence.available(s.id)}
    best = max(counts, key=lambda k: counts[k], default="none")
    times = tuple(k.t for k in ooms) if evidence.kills else _observed_kill_times(evidence, best)
    return GroundTruth(counts.get(best, 0), f"estimated from {best}", False, ooms, times)


def _observed_kill_times(evidence: RunEvidence, source: str) -> tuple[float, ...]:
    return tuple(sorted(o.t for o in evidence.observations if o.source == source and o.kill))
