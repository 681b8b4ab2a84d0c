"""cgroup OOM counter: the ground truth of how many OOM kills happened in the container.

cgroup v2: ``oom_kill`` in memory.events; v1: ``oom_kill`` in memory.oom_control. The
container's cgroup directory is found from its PID's /proc/PID/cgroup (see
``labapp.cgroupfs.for_pid``), so both cgroup drivers and both versions work. The
directory keeps its path across restarts of the same container but is recreated, so a
counter that goes down means a new incarnation, not fewer kills.
"""

from __future__ import annotations

import threading
import time

from harness.collectors.base import Poller
from harness.evidence import Observation, SourceStatus
from labapp.cgroupfs import CgroupMemory

SOURCE = "cgroup"


class OomCounter:
    """Turns successive counter readings into one observation per kill."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.total = 0

    def update(self, value: int, t: float) -> list[Observation]:
        """Feed one reading; return an observation for each new kill it reveals."""
        if self.last is None:
            self.last = value
            return []
        new = value - self.last if value >= self.last else value
        self.last = value
        self.total += new
        return [Observation(SOURCE, t, "oom_kill", True, {"counter": value}) for _ in range(new)]


class CgroupOomCollector:
    """Polls the container's OOM counter every ``interval`` seconds."""

    def __init__(self, cgroup: CgroupMemory | None, interval: float = 0.02) -> None:
        self.cgroup = cgroup
        self.counter = OomCounter()
        self.observations: list[Observation] = []
        self.status = SourceStatus.ok()
        self._lock = threading.Lock()
        self._poller = Poller("cgroup-oom", interval, self._tick)
        if cgroup is None:
            self.status = SourceStatus.unavailable("container's memory cgroup not found under /sys/fs/cgroup")
        else:
            first = cgroup.oom_kills()
            if first.value is None:
                self.status = SourceStatus.unavailable(first.reason or "oom_kill counter unreadable")
            else:
                self.counter.update(first.value, time.time())

    @property
    def kills(self) -> int:
        return self.counter.total

    def start(self) -> None:
        if self.status.available:
            self._poller.start()

    def stop(self) -> None:
        self._poller.stop()
        self._tick()  # one last read, so a kill just before the stop is counted

    def _tick(self) -> None:
        if not self.status.available or self.cgroup is None:
            return
        reading = self.cgroup.oom_kills()
        if reading.value is None:  # between incarnations the directory is briefly absent
            return
        found = self.counter.update(reading.value, time.time())
        if found:
            with self._lock:
                self.observations.extend(found)

    def snapshot(self) -> list[Observation]:
        with self._lock:
            return list(self.observations)
