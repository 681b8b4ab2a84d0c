"""Memory series: a high-resolution sampler, the kernel's high-water mark, and the
1-minute average of working set that platform metrics report (Azure's WorkingSetBytes
at PT1M).

Working set is usage minus inactive file pages, as the platforms compute it.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from harness.cgroupfs import INACTIVE_FILE_KEY, CgroupMemory
from harness.collectors.base import CollectorThread, ThreadedCollector
from harness.collectors.cgroup import keyed_value
from harness.evidence import MemorySample


class OpenCounter:
    """One cgroup file kept open and re-read with ``pread``.

    A sample must be cheap: ``pread`` on an open descriptor costs about a microsecond
    where opening the file each time costs ten (and under emulation, a millisecond). The
    directory is recreated when the container restarts, so a failed read reopens the file
    once. ``key`` reads one counter of a flat-keyed file (memory.stat) by a byte search,
    without parsing the other sixty lines.
    """

    def __init__(self, path: Path, key: str | None = None) -> None:
        self.path = path
        self._key = key
        self._fd: int | None = None

    def read(self) -> int | None:
        """The file's number (or the key's), or None while it cannot be read."""
        for _ in range(2):
            try:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                content = os.pread(self._fd, 65536 if self._key else 64, 0)
                return int(content) if self._key is None else keyed_value(content, self._key)
            except (OSError, ValueError):
                self.close()
        return None

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None


#: Below ``NEAR_LIMIT``, the sampler aims to see memory move by this share of the limit
#: between samples (a climb to the limit is about 20 samples; near it, every ``interval``).
STEP_SHARE = 0.05
#: ... or by this much where no limit is known.
STEP_NO_LIMIT = 4 * 1024 * 1024
#: From this share of the limit on, every ``interval``: near the limit the climb slows
#: (the kernel reclaims first) while the peak and the kill are still to come.
NEAR_LIMIT = 0.9
#: How long the sampler stays fast after the kernel signalled a memory event.
NUDGE_FAST_S = 0.5
#: The wait while the cgroup is absent (between a container's exit and its restart).
ABSENT_WAIT_S = 0.1
#: The longest wait between samples, while memory stands still.
SLOWEST_S = 0.5
#: Seconds between reads of memory.stat (inactive file pages) and the high-water mark.
STAT_EVERY_S = 1.0


class MemorySampler(ThreadedCollector[MemorySample]):
    """Samples usage and working set of a cgroup, paced by how fast memory moves.

    Each wake-up of a thread costs tens of microseconds of CPU on real hardware and one
    to two milliseconds under emulation, so a fixed 20 ms pace cost several percent of a
    core in the cgroup v2 guest. What the series must show is how memory climbs, its
    peak, and the drop at each kill; so the sampler waits as long as it takes memory to
    move by ``STEP_SHARE`` (5 %) of the limit at the pace it moved since the last sample:
    every ``interval`` (20 ms by default) during a fast climb or a drop, up to ``SLOWEST_S``
    while memory stands still, and every ``interval`` from ``NEAR_LIMIT`` of the limit on
    (there the climb slows while the kernel reclaims, and the peak and the kill follow).
    The kernel's own high-water mark is read too, so the true peak never depends on the
    pace.

    Usage is read every tick; memory.stat (for the inactive file pages that working set
    leaves out) and the high-water mark every ``STAT_EVERY_S``, because parsing the stat
    file is most of a tick's cost and inactive file pages move slowly.
    """

    what = "the memory sampler"

    def __init__(self, cgroup: CgroupMemory | None, interval: float = 0.05, limit_bytes: int | None = None) -> None:
        super().__init__(CollectorThread.periodic("memory-sampler", interval, self._tick))
        self.cgroup = cgroup
        self.interval = interval
        self.limit_bytes = limit_bytes
        self.highwater: int | None = None
        self._next_stat = 0.0
        self._fast_until = 0.0
        self._last_tick = 0.0
        self._inactive_file = 0
        if cgroup is None:
            self.set_unavailable("container's memory cgroup not found under /sys/fs/cgroup")
        self._usage = OpenCounter(cgroup.path / _USAGE_FILE[cgroup.version]) if cgroup else None
        self._inactive = (OpenCounter(cgroup.path / "memory.stat", INACTIVE_FILE_KEY[cgroup.version])
                          if cgroup else None)
        self._peak = OpenCounter(cgroup.path / _PEAK_FILE[cgroup.version]) if cgroup else None

    def start(self) -> None:
        if self.readable and self.cgroup is not None:
            self.thread.tick_now()  # the first sample is there when start returns
            self.thread.start()

    def stop(self) -> None:
        """Stop sampling, take the final high-water mark, close the files. A thread that
        did not end keeps its descriptors: closed under it, their numbers could be reused
        by another open and its next pread would read someone else's file."""
        ended = self.thread.stop()
        if self.readable and self.cgroup is not None:
            self._read_highwater()  # the final high-water mark
        if not ended:
            return
        for counter in (self._usage, self._inactive, self._peak):
            if counter is not None:
                counter.close()

    def nudge(self) -> None:
        """The kernel said the cgroup's memory events changed (it hit its limit, or an OOM
        began): sample now and fast for a second, so a spike's peak is not missed between
        two slow samples. Called from the OOM watch's thread."""
        now = time.monotonic()
        self._fast_until = now + NUDGE_FAST_S
        if now - self._last_tick >= self.interval:
            self.thread.wake()

    def latest(self) -> MemorySample | None:
        with self._lock:
            return self._items[-1] if self._items else None

    def _tick(self) -> float:
        """Take one sample; the wait before the next one."""
        assert self._usage is not None
        usage = self._usage.read()
        if usage is None:  # the cgroup is between incarnations (a restart) or gone
            self._note_absent()
            return ABSENT_WAIT_S
        now = self._last_tick = time.monotonic()
        if now >= self._next_stat:
            self._refresh_slow_figures(usage)
            self._next_stat = now + STAT_EVERY_S
        sample = MemorySample(time.time(), usage, max(0, usage - self._inactive_file))
        with self._lock:
            previous = self._items[-1] if self._items else None
            self._items.append(sample)
        return self._next_wait(previous, sample, now)

    def _note_absent(self) -> None:
        """Record once that the cgroup went away (a sample with no usage): the series saw the
        container's memory vanish, which is how a PID-1 kill shows when the next incarnation
        has regrown before the sampler reads it again."""
        with self._lock:
            if self._items and self._items[-1].usage_bytes is not None:
                self._items.append(MemorySample(time.time(), None, None))

    def _next_wait(self, previous: MemorySample | None, sample: MemorySample, now: float) -> float:
        if previous is None or previous.usage_bytes is None or sample.usage_bytes is None:
            return self.interval
        if now < self._fast_until or (self.limit_bytes and sample.usage_bytes >= NEAR_LIMIT * self.limit_bytes):
            # The peak and the kill are here, and reclaim slows the climb. The kernel's
            # high-water mark is read too: a restart takes it with the cgroup.
            self._read_highwater()
            return self.interval
        step = STEP_SHARE * self.limit_bytes if self.limit_bytes else STEP_NO_LIMIT
        speed = abs(sample.usage_bytes - previous.usage_bytes) / max(sample.t - previous.t, 1e-3)
        wait = step / speed if speed > 0 else SLOWEST_S
        return min(max(wait, self.interval), max(SLOWEST_S, self.interval))

    def _refresh_slow_figures(self, usage: int) -> None:
        assert self._inactive is not None
        inactive = self._inactive.read()
        self._inactive_file = min(usage, inactive) if inactive is not None else 0
        self._read_highwater()

    def _read_highwater(self) -> None:
        peak = self._peak.read() if self._peak is not None else None
        if peak is None and self.cgroup is not None:
            peak = self.cgroup.peak().value  # the file may have come back with a restart
        if peak is not None:
            with self._lock:
                self.highwater = max(self.highwater or 0, peak)


_USAGE_FILE = {1: "memory.usage_in_bytes", 2: "memory.current"}
_PEAK_FILE = {1: "memory.max_usage_in_bytes", 2: "memory.peak"}



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
    minute = float(first_minute)
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
    for (t, value), (t_next, _) in zip(points, points[1:] + [(points[-1][0], 0.0)], strict=True):
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
