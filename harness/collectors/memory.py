"""Memory series: a high-resolution sampler, the kernel's high-water mark, and the
1-minute average of working set that platform metrics report (Azure's WorkingSetBytes
at PT1M).

Working set is usage minus inactive file pages, as the platforms compute it.
"""

from __future__ import annotations

import math
import threading
import time

from harness.collectors.base import Poller
from harness.evidence import MemorySample, SourceStatus
from labapp.cgroupfs import CgroupMemory


class MemorySampler:
    """Samples usage and working set of a cgroup every ``interval`` seconds.

    Usage is read every tick; memory.stat (for the inactive file pages that working set
    leaves out) and the high-water mark every ``stat_every`` ticks, because parsing the
    stat file is most of a tick's cost and inactive file pages move slowly.
    """

    def __init__(self, cgroup: CgroupMemory | None, interval: float = 0.05, stat_every: int = 5) -> None:
        self.cgroup = cgroup
        self.samples: list[MemorySample] = []
        self.highwater: int | None = None
        self.stat_every = stat_every
        self._ticks = 0
        self._inactive_file = 0
        self.status = SourceStatus.ok() if cgroup else SourceStatus.unavailable(
            "container's memory cgroup not found under /sys/fs/cgroup")
        self._lock = threading.Lock()
        self._poller = Poller("memory-sampler", interval, self._tick)

    def start(self) -> None:
        if self.cgroup is not None:
            self._tick()
            self._poller.start()

    def stop(self) -> None:
        self._poller.stop()
        if self.cgroup is not None:
            self._read_highwater()  # the final high-water mark

    def latest(self) -> MemorySample | None:
        with self._lock:
            return self.samples[-1] if self.samples else None

    def snapshot(self) -> list[MemorySample]:
        with self._lock:
            return list(self.samples)

    @property
    def cpu_s(self) -> float:
        """CPU time the sampling thread used."""
        return self._poller.cpu_s

    def _tick(self) -> None:
        assert self.cgroup is not None
        usage = self.cgroup.usage().value
        if usage is None:  # the cgroup is between incarnations (restart) or gone
            return
        if self._ticks % self.stat_every == 0:
            self._refresh_slow_figures(usage)
        self._ticks += 1
        sample = MemorySample(time.time(), usage, max(0, usage - self._inactive_file))
        with self._lock:
            self.samples.append(sample)

    def _refresh_slow_figures(self, usage: int) -> None:
        assert self.cgroup is not None
        working = self.cgroup.working_set().value
        self._inactive_file = max(0, usage - working) if working is not None else 0
        self._read_highwater()

    def _read_highwater(self) -> None:
        assert self.cgroup is not None
        peak = self.cgroup.peak().value
        if peak is not None:
            with self._lock:
                self.highwater = max(self.highwater or 0, peak)


def one_minute_averages(
    samples: list[MemorySample], idle_before: float | None = None, idle_after: float | None = None
) -> list[tuple[float, float]]:
    """Average working set per wall-clock minute, as a 1-minute platform metric reports it.

    A platform averages over whole minutes while the container runs on before and after
    an experiment. A local run is shorter than a minute, so the parts of each minute
    outside the run are filled at the idle level measured at its start (``idle_before``)
    and end (``idle_after``), and one more minute at the idle level follows the run.
    Without idle levels, only the sampled part of each minute is averaged.
    """
    points = [(s.t, float(s.working_set_bytes)) for s in samples if s.working_set_bytes is not None]
    if not points:
        return []
    first_minute = math.floor(points[0][0] / 60) * 60
    last_minute = math.floor(points[-1][0] / 60) * 60
    result = []
    minute = first_minute
    while minute <= last_minute:
        result.append((minute, _minute_average(points, minute, idle_before, idle_after)))
        minute += 60
    if idle_after is not None:
        result.append((minute, idle_after))
    return result


def _minute_average(
    points: list[tuple[float, float]], start: float, before: float | None, after: float | None
) -> float:
    """Time-weighted mean of a step series over [start, start+60), padded with idle levels."""
    end = start + 60
    total = covered = 0.0
    for (t, value), (t_next, _) in zip(points, points[1:] + [(points[-1][0], 0.0)]):
        lo, hi = max(t, start), min(t_next, end)
        if hi > lo:
            total += value * (hi - lo)
            covered += hi - lo
    run_start, run_end = points[0][0], points[-1][0]
    if before is not None and run_start > start:
        span = min(run_start, end) - start
        total, covered = total + before * span, covered + span
    if after is not None and run_end < end:
        span = end - max(run_end, start)
        total, covered = total + after * span, covered + span
    if covered <= 0:
        inside = [v for t, v in points if start <= t < end]
        return sum(inside) / len(inside) if inside else 0.0
    return total / covered
