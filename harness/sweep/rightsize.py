"""``harness right-size``: the smallest memory limit at which a workload runs with no OOM
kill, found by experiment (bisection over ``limits.memory``, the kill as the judge).

Each probe runs the scenario k times at one limit (a child ``harness run``); it passes
when none of the k runs had a kill (the cgroup counter, the ground truth). The upper
bound must pass (it is doubled until it does, within the engine's memory); the lower
bound is given, or half the peak the upper bound's runs reached. Bisection stops when the
passing and failing limits are one step apart. The answer is the passing limit, with the
failure one step below it (its kills, and which sources saw them), the peak and its
spread at the answer, and a recommendation with the headroom stated."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from harness.errors import HarnessError
from harness.result import ScenarioResult
from harness.scenario.units import format_size
from harness.units import MIB

SCHEMA: Final = "oom-harness/right-size/1"

SEEN = ("visible", "partial")


@dataclass(frozen=True)
class Probe:
    """k runs at one limit."""

    limit_bytes: int
    runs: int
    kills: int
    peak_mb: list[float]
    saw_kills: dict[str, str] = field(default_factory=dict)  # source: verdict, for sources that saw any
    folder: str = ""

    @property
    def passed(self) -> bool:
        return self.runs > 0 and self.kills == 0

    def describe(self) -> str:
        runs = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        if self.passed:
            return f"{format_size(self.limit_bytes)}: 0 kills in {runs}"
        seen = ", ".join(f"{s} ({v})" for s, v in self.saw_kills.items()) or "no source"
        return f"{format_size(self.limit_bytes)}: {self.kills} kills in {runs}, seen by {seen}"


@dataclass(frozen=True)
class RightSize:
    """What right-size found, and every probe it ran."""

    scenario: str
    scenario_file: str
    step_bytes: int
    repeat: int
    headroom: float
    probes: list[Probe]
    limit_bytes: int
    below: Probe | None
    recommended_bytes: int
    engine: dict[str, Any]
    wall_s: float
    schema: Literal["oom-harness/right-size/1"] = SCHEMA  # written into right-size.json: the version

    @property
    def at_limit(self) -> Probe:
        return next(p for p in self.probes if p.limit_bytes == self.limit_bytes)


ProbeRun = Callable[[int], Probe]


def probe_of(limit: int, result: ScenarioResult, folder: str = "") -> Probe:
    """A probe's outcome from the scenario's result at ``limit``."""
    figures = [run.figures for run in result.runs]
    kills = sum(f.oom_kills for f in figures)
    saw = {row.source: str(row.verdict) for row in result.matrix if row.verdict in SEEN} if kills else {}
    return Probe(limit, len(figures), kills, [f.peak_mb for f in figures if f.peak_mb is not None], saw, folder)


def bisect(run: ProbeRun, high: int, step: int, max_bytes: int, low: int | None = None,
           log: Callable[[str], None] = print) -> tuple[int, Probe | None, list[Probe]]:
    """The smallest passing limit (to within ``step``), the failing probe just below it
    (None when the lower bound was never probed), and every probe in order."""
    probes: list[Probe] = []

    def probe(limit: int) -> Probe:
        result = run(limit)
        probes.append(result)
        log(f"right-size: {result.describe()}")
        return result

    high = round_up(high, step)
    first = probe(high)
    below: Probe | None = None
    while not first.passed:
        below = first
        if high * 2 > max_bytes:
            raise HarnessError(f"right-size: kills at every limit up to {format_size(high)} (the next, "
                               f"{format_size(high * 2)}, is more than the engine's {format_size(max_bytes)})")
        low, high = high, high * 2
        first = probe(high)
    if low is None:
        peak = max(first.peak_mb, default=high / MIB) * MIB
        low = max(step, round_down(int(peak / 2), step))
    low = round_down(low, step)
    while high - low > step:
        middle = round_down((high + low) // 2, step)
        if middle in (low, high):
            break
        result = probe(middle)
        if result.passed:
            high = middle
        else:
            low, below = middle, result
    if below is None or below.limit_bytes != low:
        floor = probe(low)  # the lower bound was never probed: it may pass too
        if floor.passed:
            high = low
        else:
            below = floor
    return high, below, probes


def recommend(limit: int, headroom: float, step: int) -> int:
    """``limit`` plus ``headroom`` (a fraction), rounded up to the step."""
    return round_up(int(math.ceil(limit * (1 + headroom))), step)


def round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def round_down(value: int, step: int) -> int:
    return max(step, value // step * step)


def render_right_size(found: RightSize) -> str:
    """The answer, the failure below it, the peak and the recommendation."""
    at = found.at_limit
    peaks = at.peak_mb
    spread = (f"{statistics.median(peaks):.0f} MB (from {min(peaks):.0f} to {max(peaks):.0f})"
              if len(peaks) > 1 else f"{peaks[0]:.0f} MB" if peaks else "unknown")
    engine = found.engine
    lines = [
        f"right-size of {found.scenario} ({found.scenario_file}): {len(found.probes)} probes of {found.repeat} "
        f"run{'s' if found.repeat != 1 else ''} each, step {format_size(found.step_bytes)}, "
        f"docker {str(engine.get('version', '?')).split('+')[0]}, cgroup v{engine.get('cgroup_version', '?')}, "
        f"{found.wall_s:g} s",
        f"smallest limit with 0 kills in {at.runs} of {at.runs} runs: {format_size(found.limit_bytes)}",
        f"one step below: {found.below.describe() if found.below else 'not probed'}",
        f"peak at that limit: {spread}",
        f"recommended: {format_size(found.recommended_bytes)} ({found.headroom:.0%} headroom over "
        f"{format_size(found.limit_bytes)}, rounded up to the step)",
        "probes: " + "; ".join(p.describe() for p in found.probes),
    ]
    return "\n".join(lines)
