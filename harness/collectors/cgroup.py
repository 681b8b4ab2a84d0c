"""cgroup OOM counter: the ground truth of how many OOM kills happened in the container.

cgroup v2: ``oom_kill`` in memory.events; v1: ``oom_kill`` in memory.oom_control. The
container's cgroup directory is found from its PID's /proc/PID/cgroup (see
``harness.cgroupfs.for_pid``), so both cgroup drivers and both versions work. The
directory keeps its path across restarts of the same container but is recreated, so a
counter that goes down means a new incarnation, not fewer kills.

Detection is event-driven, so a kill is seen within milliseconds and an idle watch costs
nothing:

- v2, as containerd's OOM watcher does: the kernel marks memory.events changed (at most
  every 10 ms) and a ``poll`` for ``POLLPRI`` alone wakes; reading the file re-arms it.
  ``POLLIN`` must not be asked for: a cgroup file always polls readable, so asking for it
  wakes the thread at once, forever.
- v1: an eventfd registered through cgroup.event_control on memory.oom_control. It fires
  as the OOM starts, a moment before the kill is counted, so the counter is read fast for
  a short while after each notification.

Every wake only reads the counter and counts ``oom_kill`` rises; other changes of
memory.events (``max``, ``high``) wake the thread but count nothing. A slow safety read
runs beside the events; where no notification can be had, the counter is polled.
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable
from pathlib import Path

from harness.cgroupfs import CgroupMemory
from harness.collectors.base import CollectorThread, ThreadedCollector
from harness.evidence import Observation

SOURCE = "cgroup"

#: How long a v1 watch keeps reading fast after a notification (the kill is counted late).
V1_HOT_S = 0.3
V1_HOT_INTERVAL_S = 0.005


def keyed_value(content: bytes, key: str) -> int | None:
    """One counter out of a flat-keyed cgroup file's bytes (``low 0\\nhigh 0\\noom_kill 1 ...``)
    by a byte search, without parsing the other lines; None when absent or malformed."""
    text = b"\n" + content
    needle = f"\n{key} ".encode()
    at = text.find(needle)
    if at < 0:
        return None
    end = text.find(b"\n", at + len(needle))
    try:
        return int(text[at + len(needle):end if end > 0 else None])
    except ValueError:
        return None


def parse_oom_kill(content: bytes) -> int | None:
    """``oom_kill`` out of memory.events' bytes."""
    return keyed_value(content, "oom_kill")


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
    """A file descriptor the kernel wakes when the cgroup's OOM state may have changed.

    ``wait`` returns True on a notification and False on the time-out; ``gone`` turns
    True when the cgroup directory was removed (the container exited), after which the
    caller makes a new notifier for the next incarnation.
    """

    def __init__(self, cgroup: CgroupMemory) -> None:
        self.cgroup = cgroup
        self.mode = "polling"
        self.gone = False
        self._fds: list[int] = []
        self._event_fd: int | None = None
        self._poll = select.poll()
        try:
            self._register()
        except OSError:
            self.close()
            self.mode = "polling"

    def _register(self) -> None:
        if self.cgroup.version == 1:
            self._event_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            control = os.open(self.cgroup.path / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
            self._fds = [self._event_fd, control]
            Path(self.cgroup.path / "cgroup.event_control").write_text(f"{self._event_fd} {control}")
            self._poll.register(self._event_fd, select.POLLIN)
            self.mode = "eventfd(memory.oom_control)"
        else:
            events = os.open(self.cgroup.path / "memory.events", os.O_RDONLY | os.O_CLOEXEC)
            self._fds = [events]
            os.pread(events, 4096, 0)  # arm: the next change of the file raises POLLPRI
            self._poll.register(events, select.POLLPRI)
            self.mode = "poll(memory.events, POLLPRI)"

    @property
    def active(self) -> bool:
        return bool(self._fds)

    @property
    def hot_after_wake(self) -> bool:
        """v1's eventfd fires before the kill is counted; v2 notifies the count itself."""
        return self._event_fd is not None

    def wait(self, timeout_s: float) -> bool:
        """Block until a notification or the time-out; True when notified."""
        if not self.active:
            time.sleep(timeout_s)
            return False
        if not self._poll.poll(int(timeout_s * 1000)):
            return False
        self._rearm()
        if self._event_fd is not None and self.active and not self.cgroup.path.exists():
            # v1 signals the eventfd once more when the cgroup is removed.
            self.gone = True
            self.close()
        return True

    def read_count(self) -> int | None:
        """v2: ``oom_kill`` read through the open descriptor, which also re-arms it (a
        fraction of what opening and parsing the file costs); None on v1 or when unread."""
        if self._event_fd is not None or not self._fds:
            return None
        try:
            return parse_oom_kill(os.pread(self._fds[0], 4096, 0))
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENOENT):
                self.gone = True
                self.close()
            return None

    def _rearm(self) -> None:
        """v1: consume the eventfd's count. v2 re-arms with the read of the counter that
        follows every wake (:meth:`read_count`), which also notices a removed cgroup: its
        file polls "changed" forever and reads ENODEV, so the watch stops instead of spinning."""
        if self._event_fd is None:
            return
        try:
            os.eventfd_read(self._event_fd)
        except BlockingIOError:
            pass

    def close(self) -> None:
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []


class CgroupOomCollector(ThreadedCollector[Observation]):
    """Watches the container's OOM counter: woken by the kernel where it can be, and
    polled every ``interval`` seconds where it cannot (every ``safety_interval`` otherwise).

    Runs on a periodic :class:`~harness.collectors.base.CollectorThread` whose tick blocks
    in the notifier's wait (so it returns 0: the next wait is the notifier's own) or, with
    no notification possible, reads and returns ``interval``. ``stop`` always reads once
    more, so a kill just before the stop is counted.
    """

    what = "the cgroup OOM watch"

    def __init__(
        self, cgroup: CgroupMemory | None, interval: float = 0.02, safety_interval: float = 2.0,
        on_wake: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(CollectorThread.periodic("cgroup-oom", interval, self._step))
        self.cgroup = cgroup
        self.counter = OomCounter()
        self.interval = interval
        self.safety_interval = safety_interval
        self.notifier: OomNotifier | None = None
        self.detection = f"polling every {interval:g}s"  # or the kernel event mechanism used
        self.wakes = 0  # notifications received, for the overhead figure
        # Told of every notification: the memory sampler speeds up when the kernel says the
        # cgroup hit its limit (v2's "max" event) or began an OOM (v1's eventfd).
        self._on_wake = on_wake
        self._hot_until = 0.0
        if cgroup is None:
            self.set_unavailable("container's memory cgroup not found under /sys/fs/cgroup")
        else:
            first = cgroup.oom_kills()
            if first.value is None:
                self.set_unavailable(first.reason or "oom_kill counter unreadable")
            else:
                self.counter.update(first.value, time.time())

    @property
    def kills(self) -> int:
        return self.counter.total

    def start(self) -> None:
        if self.readable and self.cgroup is not None:
            self.notifier = OomNotifier(self.cgroup)
            if self.notifier.active:
                self.detection = self.notifier.mode
            self.thread.start()

    def stop(self) -> None:
        """Stop watching, with one last read so a kill just before the stop is counted. The
        notifier's descriptors are closed only when the thread ended (see MemorySampler.stop)."""
        ended = self.thread.stop()
        self._tick()
        if ended and self.notifier:
            self.notifier.close()

    def _step(self) -> float:
        """One turn of the watch: sleep until the kernel notifies (or the safety read is
        due), then read the counter; without a notifier, read and poll again in ``interval``."""
        notifier = self._current_notifier()
        if notifier is None:
            self._tick()
            return self.interval
        hot = time.monotonic() < self._hot_until
        if notifier.wait(V1_HOT_INTERVAL_S if hot else self.safety_interval):
            self.wakes += 1
            if self._on_wake is not None:
                self._on_wake()
            if notifier.hot_after_wake:
                self._hot_until = time.monotonic() + V1_HOT_S
        self._tick()
        return 0.0

    def _current_notifier(self) -> OomNotifier | None:
        """The live notifier; after the cgroup was recreated (a restart), a new one."""
        assert self.cgroup is not None
        notifier = self.notifier
        if notifier is not None and notifier.active:
            return notifier
        if notifier is not None and notifier.gone and self.cgroup.path.exists():
            self.notifier = notifier = OomNotifier(self.cgroup)
            return notifier if notifier.active else None
        return None  # no notification possible, or between incarnations: poll

    def _tick(self) -> None:
        if not self.readable or self.cgroup is None:
            return
        value = self.notifier.read_count() if self.notifier is not None else None
        if value is None:
            value = self.cgroup.oom_kills().value
        if value is None:  # between incarnations the directory is briefly absent
            return
        t = time.time()
        with self._lock:  # the last read of stop() may meet a thread that did not end in time
            self._items.extend(self.counter.update(value, t))
