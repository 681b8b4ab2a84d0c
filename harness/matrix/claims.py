"""Console kill lines judged against the ground truth: which line reported which OOM kill,
which kill no line reported, and which line claimed a kill that did not happen.

A kill line is a master saying its worker died of SIGKILL (or just died); it does not know
why. gunicorn prints "Perhaps out of memory?" and uWSGI "killed by signal 9" also when the
server killed the worker itself for running past its timeout, so a line is only an OOM
kill's evidence when the cgroup counter or the kernel log shows an OOM kill at that time.
Lines are paired with kills by time: a master logs its worker's death within milliseconds
(0.02 to 0.2 s measured for gunicorn, within its 0.5 s check for uvicorn), and the
container's PIDs in the lines cannot be matched with the kernel's host PIDs.

Without a ground truth (a platform's exported logs) no line can be judged: every kill line
counts, as the platform's users would count it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.evidence import Kill, Observation, RunEvidence
from harness.matrix.truth import GroundTruth, ground_truth

CONSOLE = "console_logs"
LINE_BEFORE_S = 2.0  # a line may carry a timestamp this much before the kernel's (clock offsets)
LINE_AFTER_S = 10.0  # ... and come this long after the kill at most
NEAREST_LINES = 5  # console lines kept around a kill that no line reported


@dataclass(frozen=True)
class KillLines:
    """A run's console kill lines against its ground-truth OOM kills.

    Attributes:
        lines: every kill line, in time order.
        matched: (kill, line) pairs: the line reported that OOM kill.
        unexplained: ground-truth kills no line reported.
        false_claims: kill lines with no OOM kill to report: kills claimed that did not happen.
        judged: False when the run has no ground truth to judge the lines by; then nothing
            is matched or false and every line simply counts.
    """

    lines: tuple[Observation, ...]
    matched: tuple[tuple[Kill, Observation], ...]
    unexplained: tuple[Kill, ...]
    false_claims: tuple[Observation, ...]
    judged: bool

    @property
    def true_lines(self) -> list[Observation]:
        """The lines that reported a real OOM kill (every line when not judged)."""
        return [line for _, line in self.matched] if self.judged else list(self.lines)

    def kill_of(self, line: Observation) -> Kill | None:
        """The OOM kill ``line`` reported, if any."""
        return next((kill for kill, matched in self.matched if matched is line), None)


def kill_lines(evidence: RunEvidence) -> list[Observation]:
    """The console's kill evidence, in time order."""
    return [o for o in evidence.of(CONSOLE) if o.kill]


def pair_kill_lines(evidence: RunEvidence, truth: GroundTruth | None = None) -> KillLines:
    """Pair every kill line with the OOM kill it reported, nearest in time first; not
    judged where the kills are only estimated (from the console itself, on a platform)."""
    lines = tuple(kill_lines(evidence))
    truth = truth or ground_truth(evidence)
    if not truth.measured:
        return KillLines(lines, (), (), (), judged=False)
    free = list(truth.kills)
    matched: list[tuple[Kill, Observation]] = []
    false: list[Observation] = []
    for line in lines:
        kill = _nearest(free, line.t)
        if kill is None:
            false.append(line)
            continue
        free.remove(kill)
        matched.append((kill, line))
    return KillLines(lines, tuple(matched), tuple(free), tuple(false), judged=True)


def _nearest(kills: Sequence[Kill], t: float) -> Kill | None:
    candidates = [k for k in kills if k.t - LINE_BEFORE_S <= t <= k.t + LINE_AFTER_S]
    return min(candidates, key=lambda k: abs(t - k.t), default=None)


def nearest_lines(evidence: RunEvidence, t: float, count: int = NEAREST_LINES) -> list[Observation]:
    """The ``count`` console lines nearest to ``t`` (any kind), in time order."""
    console = [o for o in evidence.of(CONSOLE) if o.detail.get("line")]
    return sorted(sorted(console, key=lambda o: abs(o.t - t))[:count], key=lambda o: o.t)


def trim_other_lines(evidence: RunEvidence, other_kind: str) -> list[Observation]:
    """The run's observations without the console lines no pattern knew (``other_kind``),
    except those nearest to a kill no kill line reported, which the report shows."""
    keep: set[int] = set()
    for kill in pair_kill_lines(evidence).unexplained:
        keep.update(id(o) for o in nearest_lines(evidence, kill.t))
    return [o for o in evidence.observations
            if not (o.source == CONSOLE and o.kind == other_kind and id(o) not in keep)]
