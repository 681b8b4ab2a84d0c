"""The facts of one run that the tree's questions read: kills, exits, memory, resets.

Gathered once per run from the evidence alone, so a result from any backend (a local
Docker run, imported platform evidence) is read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.diagnose.memory import (
    Climb,
    Reset,
    Series,
    find_climb,
    load_start,
    reset_after,
    series_of,
)
from harness.evidence import Observation, RunEvidence
from harness.matrix import RunFigures

GROUND_TRUTH = ("cgroup", "kernel_log")


@dataclass(frozen=True)
class RunFacts:
    """One run as the diagnosis sees it.

    Attributes:
        kill_times: when memory kills happened (the kernel's own record where the backend
            has one, else the best-placed source's kill observations).
        kill_source: where the kill count comes from (``cgroup``, ``console_logs`` ...).
        confirmed: True when the kernel or the engine itself called it an OOM kill,
            False when only a SIGKILL (exit 137, a "was sent SIGKILL" line) was seen.
        climb: the rise of memory up to the first kill (or the run's highest point).
        resets: what memory did after each kill.
    """

    evidence: RunEvidence
    figures: RunFigures
    kill_times: tuple[float, ...]
    kill_source: str
    confirmed: bool
    series: Series | None
    climb: Climb | None
    resets: tuple[Reset, ...]

    @property
    def run(self) -> int:
        return self.evidence.run

    @property
    def limit(self) -> int | None:
        return self.evidence.memory_limit_bytes

    @property
    def killed(self) -> bool:
        return bool(self.kill_times)

    @property
    def has_ground_truth(self) -> bool:
        return any(self.evidence.available(source) for source in GROUND_TRUTH)

    def exits(self) -> list[Observation]:
        """The container's own exits (engine ``die`` events)."""
        return [o for o in self.evidence.of("lifecycle_events") if o.kind == "die"]

    def other_exit_codes(self) -> list[int]:
        """Exit codes that are neither a clean stop nor a SIGKILL (unknown codes left out)."""
        codes = [o.detail.get("exit_code") for o in self.exits()]
        return [int(code) for code in codes if code is not None and int(code) not in (0, 137)]


def facts_of(evidence: RunEvidence, figures: RunFigures) -> RunFacts:
    """Gather the facts of one run."""
    times, source = memory_kills(evidence)
    series = series_of(evidence)
    climb = find_climb(series, times[0] if times else None, load_start(evidence)) if series else None
    resets: tuple[Reset, ...] = ()
    if series is not None:
        following = [*times[1:], None]
        resets = tuple(reset_after(series, t, nxt, climb) for t, nxt in zip(times, following))
    return RunFacts(evidence, figures, tuple(times), source, _confirmed(evidence, times), series, climb, resets)


def memory_kills(evidence: RunEvidence) -> tuple[list[float], str]:
    """When processes were killed for memory, and which source says so.

    The cgroup counter and the kernel log decide where the backend can read them (also
    when they say 0). Elsewhere the source with the most memory-kill signs is taken; a
    non-zero exit other than 137 is a crash, not a kill, so it is not counted here.
    """
    if any(evidence.available(source) for source in GROUND_TRUTH):
        source = "cgroup" if evidence.available("cgroup") else "kernel_log"
        return sorted(k.t for k in evidence.kills), source
    candidates = {
        "engine_state": [o.t for o in evidence.of("engine_state") if o.kind == "oom_killed"],
        "engine_oom_event": [o.t for o in evidence.of("engine_oom_event") if o.kill],
        "console_logs": [o.t for o in evidence.of("console_logs") if o.kill],
        "lifecycle_events": [o.t for o in evidence.of("lifecycle_events")
                             if o.kind == "die" and o.detail.get("exit_code") == 137],
    }
    best = max(candidates, key=lambda name: len(candidates[name]))
    if not candidates[best]:
        return [], "no source"
    return sorted(candidates[best]), best


def _confirmed(evidence: RunEvidence, times: list[float]) -> bool:
    if not times:
        return False
    if any(evidence.available(source) for source in GROUND_TRUTH):
        return True
    return any(o.kind == "oom_killed" for o in evidence.of("engine_state")) or bool(evidence.of("engine_oom_event"))
