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
from harness.matrix.claims import kill_lines, pair_kill_lines

GROUND_TRUTH = ("cgroup", "kernel_log")
TIMEOUT_WINDOW_S = 30.0  # a server's timeout line this long before a kill line explains it


@dataclass(frozen=True)
class FalseKill:
    """A console kill line with no OOM kill behind it.

    Attributes:
        line: the kill line (gunicorn's "Perhaps out of memory?", uWSGI's "killed by signal 9" ...).
        timeout: the server's own timeout line for the same worker just before it
            (gunicorn's WORKER TIMEOUT, uWSGI's HARAKIRI), when there is one: then the
            server killed its worker itself.
        request: the lab's arrival line of the request that worker was serving, if logged.
    """

    line: Observation
    timeout: Observation | None = None
    request: Observation | None = None


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
    false_kills: tuple[FalseKill, ...] = ()

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
        resets = tuple(reset_after(series, t, nxt, climb) for t, nxt in zip(times, following, strict=False))
    return RunFacts(evidence, figures, tuple(times), source, _confirmed(evidence, times), series, climb, resets,
                    false_kills(evidence))


def false_kills(evidence: RunEvidence) -> tuple[FalseKill, ...]:
    """The kill lines the ground truth shows were no OOM kill, each with what explains it."""
    return tuple(FalseKill(line, server_timeout(evidence, line), request_in_flight(evidence, line))
                 for line in pair_kill_lines(evidence).false_claims)


def server_timeout(evidence: RunEvidence, line: Observation) -> Observation | None:
    """The server's timeout line for the worker ``line`` names, logged just before it."""
    pid = line.detail.get("pid")
    if pid is None:
        return None
    before = [o for o in evidence.of("console_logs") if o.kind == "worker_timeout" and o.detail.get("pid") == pid
              and line.t - TIMEOUT_WINDOW_S <= o.t <= line.t]
    return before[-1] if before else None


def request_in_flight(evidence: RunEvidence, line: Observation) -> Observation | None:
    """The last request the killed worker took and never answered (the lab's ``[REQ]`` lines)."""
    pid = line.detail.get("pid")
    console = evidence.of("console_logs")
    answered = {o.detail.get("id") for o in console if o.kind == "request_end" and o.detail.get("pid") == pid}
    open_ = [o for o in console if o.kind == "request_start" and o.detail.get("pid") == pid and o.t <= line.t
             and o.detail.get("id") not in answered]
    return open_[-1] if pid is not None and open_ else None


def memory_kills(evidence: RunEvidence) -> tuple[list[float], str]:
    """When processes were killed for memory, and which source says so.

    The cgroup counter and the kernel log decide where the backend can read them (also
    when they say 0). Elsewhere the source with the most memory-kill signs is taken; a
    non-zero exit other than 137 is a crash, not a kill, and a kill line right after the
    server's own timeout line for that worker (WORKER TIMEOUT, HARAKIRI) is the server's
    kill, so neither is counted here.
    """
    if any(evidence.available(source) for source in GROUND_TRUTH):
        source = "cgroup" if evidence.available("cgroup") else "kernel_log"
        return sorted(k.t for k in evidence.kills), source
    candidates = {
        "engine_state": [o.t for o in evidence.of("engine_state") if o.kind == "oom_killed"],
        "engine_oom_event": [o.t for o in evidence.of("engine_oom_event") if o.kill],
        "console_logs": [o.t for o in kill_lines(evidence) if server_timeout(evidence, o) is None],
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
