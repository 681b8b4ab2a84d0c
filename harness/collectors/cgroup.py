"""cgroup OOM counter: the ground truth of how many OOM kills happened in the container.

cgroup v2: ``oom_kill`` in memory.events; v1: ``oom_kill`` in memory.oom_control. The
container's cgroup directory is found from its PID's /proc/PID/cgroup (see
``labapp.cgroupfs.for_pid``), so both cgroup drivers and both versions work. The
directory keeps its path across restarts of the same container but is recreated, so a
counter that goes down means a new incarnation, not fewer kills.

Detection is event-driven where the kernel allows it, so a kill is seen within
milliseconds: on v1 an eventfd registered through cgroup.event_control on
memory.oom_control, on v2 a poll for POLLPRI on memory.events (the kernel signals a
change of the file). Polling every ``interval`` is the fallback, and also runs
alongside the events at a slower pace as a safety net.
"""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

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


class OomNotifier:
    """A file descriptor the kernel makes readable when the cgroup hits an OOM."""

    def __init__(self, cgroup: CgroupMemory) -> None:
        self.mode = "polling"
        self._fds: list[int] = []
        self._event_fd: int | None = None
        try:
            self._register(cgroup)
        except OSError:
            self.close()
            self.mode = "polling"

    def _register(self, cgroup: CgroupMemory) -> None:
        if cgroup.version == 1:
            self._event_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            control = os.open(cgroup.path / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
            self._fds = [self._event_fd, control]
            Path(cgroup.path / "cgroup.event_control").write_text(f"{self._event_fd} {control}")
            self.mode = "eventfd(memory.oom_control)"
        else:
            events = os.open(cgroup.path / "memory.events", os.O_RDONLY | os.O_CLOEXEC)
            self._fds = [events]
            os.read(events, 4096)  # arm: POLLPRI reports changes after a read
            self.mode = "poll(memory.events)"
        self._poll = select.poll()
        self._poll.register(self._fds[0], select.POLLIN | select.POLLPRI | select.POLLERR)

    @property
    def active(self) -> bool:
        return bool(self._fds)

    def wait(self, timeout_s: float) -> bool:
        """Block until an OOM notification or the time-out; True when notified."""
        if not self.active:
            time.sleep(timeout_s)
            return False
        if not self._poll.poll(int(timeout_s * 1000)):
            return False
        self._drain()
        return True

    def _drain(self) -> None:
        try:
            if self._event_fd is not None:
                os.eventfd_read(self._event_fd)
            else:
                os.lseek(self._fds[0], 0, os.SEEK_SET)
                os.read(self._fds[0], 4096)
        except OSError:
            pass

    def close(self) -> None:
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []


class CgroupOomCollector:
    """Watches the container's OOM counter: woken by the kernel where it can be, and
    polled every ``interval`` seconds where it cannot (every ``safety_interval`` otherwise)."""

    def __init__(self, cgroup: CgroupMemory | None, interval: float = 0.02, safety_interval: float = 0.1) -> None:
        self.cgroup = cgroup
        self.counter = OomCounter()
        self.observations: list[Observation] = []
        self.status = SourceStatus.ok()
        self.interval = interval
        self.safety_interval = safety_interval
        self.notifier: OomNotifier | None = None
        self.detection = f"polling every {interval:g}s"  # or the kernel event mechanism used
        self.cpu_s = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cgroup-oom", daemon=True)
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
        if self.status.available and self.cgroup is not None:
            self.notifier = OomNotifier(self.cgroup)
            if self.notifier.active:
                self.detection = self.notifier.mode
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.notifier:
            self.notifier.close()
        self._tick()  # one last read, so a kill just before the stop is counted

    def _loop(self) -> None:
        assert self.notifier is not None and self.cgroup is not None
        started = time.thread_time()
        rearm = False
        hot_until = 0.0
        while not self._stop.is_set():
            if self.notifier.active:
                # The OOM notification comes as the OOM starts, a moment before the kill
                # is counted: read fast for a short while after each one.
                fast = time.monotonic() < hot_until
                if self.notifier.wait(0.005 if fast else self.safety_interval):
                    hot_until = time.monotonic() + 0.3
            else:
                self._stop.wait(self.interval)
            self._tick()
            if self.notifier.active and not self.cgroup.path.exists():
                # The cgroup went with its container's exit; re-arm on the next incarnation.
                self.notifier.close()
                rearm = True
            elif rearm and self.cgroup.path.exists():
                self.notifier, rearm = OomNotifier(self.cgroup), False
            self.cpu_s = time.thread_time() - started

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
