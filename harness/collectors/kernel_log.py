"""Kernel log: the OOM killer's own report of each kill (victim PID, name, anon RSS).

Read from /dev/kmsg, starting at its end when the run starts, so only new records are
seen. Records are filtered to the container's memory cgroup by its id, which appears in
``oom_memcg=``/``task_memcg=`` on both cgroup versions (``/docker/<id>`` with the cgroupfs
driver, ``docker-<id>.scope`` with systemd).
"""

from __future__ import annotations

import errno
import os
import re
import select
import threading
import time
from dataclasses import dataclass, replace

from harness.collectors.base import CollectorThread, ThreadedCollector
from harness.errors import first_line
from harness.evidence import Kill, Observation

KMSG_PATH = "/dev/kmsg"
SOURCE = "kernel_log"

# The OOM killer's summary of its victim. A cgroup OOM names the cgroup that hit its limit
# (``oom_memcg=``); a machine-wide OOM says ``global_oom`` instead.
_OOM_KILL = re.compile(
    r"oom-kill:.*?(?:oom_memcg=(?P<oom_memcg>[^,]*)|global_oom),task_memcg=(?P<task_memcg>[^,]*),"
    r"task=(?P<task>[^,]*),pid=(?P<pid>\d+)"
)
# One line per process killed: the victim, and with memory.oom.group set every other
# process of the group. "Memory cgroup out of memory: " or "Out of memory: " before it.
_KILLED = re.compile(
    r"(?P<scope>Memory cgroup out of memory|Out of memory): Killed process (?P<pid>\d+) \((?P<name>[^)]*)\)"
    r"(?:.*?anon-rss:(?P<anon>\d+)kB)?"
)
_GROUP = re.compile(r"Tasks in (?P<memcg>\S+) are going to be killed due to memory.oom.group set")
_INVOKED = re.compile(r"invoked oom-killer:")

#: How far a counter reading may come before the kernel's own timestamp (the two clocks
#: are converted to Unix time separately), and how late it may come, to be the same kill.
PAIR_EARLY_S = 0.05
PAIR_LATE_S = 10.0
#: A counter rise with no kernel line this soon after a group kill is one of its members
#: (in the guest one of three members killed 40 ms after the victim had no line of its own).
GROUP_WINDOW_S = 1.0


@dataclass(frozen=True)
class KmsgRecord:
    """One /dev/kmsg record: ``prio,seq,usec,flags;text``."""

    seq: int
    usec: int
    text: str


@dataclass(frozen=True)
class KmsgGap:
    """Records the kernel overwrote before they were read: between two kernel times, how
    many (None when no record had been read before)."""

    from_usec: int
    to_usec: int
    lost: int | None

    def describe(self) -> str:
        count = f"{self.lost} records" if self.lost is not None else "records"
        return f"{count} between kernel times {self.from_usec / 1e6:.3f} and {self.to_usec / 1e6:.3f} s"


@dataclass(frozen=True)
class KernelKill:
    """One OOM kill the kernel logged for a given cgroup."""

    usec: int
    pid: int
    name: str | None
    memcg: str
    anon_rss_kb: int | None
    group_member: bool = False


def parse_kmsg_record(raw: str) -> KmsgRecord | None:
    """Parse one record; continuation lines (starting with a space) are dropped."""
    head, sep, text = raw.partition(";")
    if not sep:
        return None
    fields = head.split(",")
    if len(fields) < 3:
        return None
    try:
        return KmsgRecord(int(fields[1]), int(fields[2]), text.split("\n", 1)[0].rstrip())
    except ValueError:
        return None


def parse_dmesg_line(line: str) -> KmsgRecord | None:
    """Parse a ``dmesg`` line (``[  197.170818] text``), for recorded inputs and imports."""
    match = re.match(r"\[\s*(\d+)\.(\d+)\]\s?(.*)", line)
    if not match:
        return None
    usec = int(match.group(1)) * 1_000_000 + int(match.group(2).ljust(6, "0")[:6])
    return KmsgRecord(0, usec, match.group(3).rstrip())


def find_kills(records: list[KmsgRecord], container_id: str) -> list[KernelKill]:
    """The OOM kills in ``records`` of processes in ``container_id``'s cgroup.

    One OOM is an ``oom-kill:`` summary naming the victim and its cgroup, then a
    ``Killed process`` line for it (which carries the anon RSS). With memory.oom.group set,
    a ``Tasks in <cgroup> are going to be killed`` line follows and one ``Killed process``
    line for each other process of the group: each is a kill of its own. Cgroup OOMs and
    machine-wide (``global_oom``) OOMs are both recognised.
    """
    kills: list[KernelKill] = []
    ours = False  # the OOM being read belongs to the container
    group: str | None = None  # the group being killed with it, when memory.oom.group is set
    victims: dict[int, int] = {}  # pid -> index in kills, for this OOM
    for record in records:
        text = record.text
        header = _OOM_KILL.search(text)
        if header:
            memcg = header["task_memcg"] + (header["oom_memcg"] or "")
            ours, group, victims = container_id in memcg, None, {}
            if ours:
                victims[int(header["pid"])] = len(kills)
                kills.append(KernelKill(record.usec, int(header["pid"]), header["task"], header["task_memcg"], None))
            continue
        if _INVOKED.search(text):
            ours, group, victims = False, None, {}
            continue
        grouped = _GROUP.search(text)
        if grouped:
            group = grouped["memcg"] if ours or container_id in grouped["memcg"] else None
            continue
        killed = _KILLED.search(text)
        if not killed:
            continue
        pid, anon = int(killed["pid"]), int(killed["anon"]) if killed["anon"] else None
        if pid in victims:
            old = kills[victims[pid]]
            kills[victims[pid]] = KernelKill(old.usec, old.pid, killed["name"], old.memcg, anon, old.group_member)
        elif group is not None:
            victims[pid] = len(kills)
            kills.append(KernelKill(record.usec, pid, killed["name"], group, anon, group_member=True))
    return kills


def pair_with_counter(kernel: list[Kill], detected: list[float]) -> list[Kill]:
    """Ground-truth kills: each kernel kill matched, by time, with the moment the cgroup
    counter showed a rise.

    The counter has no PIDs, only times; the kernel log has both. A counter rise is the
    same kill as the earliest kernel kill not yet matched that was logged before it (allowing
    ``PAIR_EARLY_S`` for the two clocks) and at most ``PAIR_LATE_S`` earlier. A group kill
    raises the counter by several at once and is logged as several kills: they pair one to
    one. A kernel kill with no rise (the cgroup went with its container) keeps no detection
    time; a rise with no kernel record (no kernel log to read) is a kill of its own, unless
    it comes within ``GROUP_WINDOW_S`` of a group kill: then it is a member whose line the
    kernel log lacks, not a second OOM.
    """
    pending = sorted(kernel, key=lambda k: k.t)
    paired: list[Kill] = []
    unmatched_rises: list[float] = []
    for t in sorted(detected):
        match = next((k for k in pending if k.t - PAIR_EARLY_S <= t <= k.t + PAIR_LATE_S), None)
        if match is None:
            unmatched_rises.append(t)
            continue
        pending.remove(match)
        paired.append(replace(match, detected_at=t))
    paired += pending
    group_kills = [k.t for k in kernel if k.group_member]
    paired += [Kill(t=t, detected_at=t, group_member=any(g - PAIR_EARLY_S <= t <= g + GROUP_WINDOW_S
                                                         for g in group_kills))
               for t in unmatched_rises]
    return sorted(paired, key=lambda k: k.t)


def to_observations(kills: list[KernelKill], boot_wall: float) -> list[Observation]:
    """Kernel kills as matrix observations; ``boot_wall`` converts kernel time to Unix time.

    A process killed only because its group was (``memory.oom.group``) is recorded, but is
    not an OOM of its own: the OOM is its victim's."""
    return [
        Observation(SOURCE, boot_wall + k.usec / 1e6, "group_member_killed" if k.group_member else "oom_kill",
                    not k.group_member,
                    {"victim_pid": k.pid, "victim_name": k.name, "anon_rss_kb": k.anon_rss_kb,
                     "memcg": k.memcg})
        for k in kills
    ]


def kernel_boot_wall() -> float:
    """Unix time of kernel time zero (kmsg stamps are on the monotonic clock)."""
    return time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)


class LogEnded(Exception):
    """The log gave an end of file: /dev/kmsg never does, so records after it are lost."""


class KernelLogCollector(ThreadedCollector[KmsgRecord]):
    """Follows /dev/kmsg in a thread from the moment it starts.

    The thread sleeps in ``poll`` until a record arrives or ``stop`` writes to a wake-up
    pipe: no idle wake-ups. A log that cannot be opened, or whose reading fails or ends
    during the run, is unavailable: records after that moment are not read, so the log
    cannot say "no kill".
    """

    what = "the kernel log"

    def __init__(self, path: str = KMSG_PATH) -> None:
        super().__init__(CollectorThread.follow("kernel-log", self._follow, unblock=self._wake_up))
        self.path = path
        self.boot_wall = kernel_boot_wall()
        self._fd: int | None = None
        # The thread sleeps until a record arrives or stop() writes here: no idle wake-ups.
        self._wake_r, self._wake_w = os.pipe()
        self._mark = ""
        self._mark_wall: float | None = None
        self._overrun = False  # the last read failed with EPIPE: records were overwritten
        self._last: KmsgRecord | None = None
        self.gaps: list[KmsgGap] = []  # where the ring buffer overwrote records unread
        self.clock = "CLOCK_MONOTONIC estimate"  # or "kernel log mark", once the mark is read

    def start(self) -> None:
        if not self.readable:
            return
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            self.set_unavailable(f"{self.path} not readable ({exc.strerror}); needs root or CAP_SYSLOG")
            return
        try:
            os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as exc:
            # A pipe (a log fed by another process) cannot seek: it starts where it is.
            if exc.errno != errno.ESPIPE:
                os.close(self._fd)
                self._fd = None
                self.set_unavailable(f"{self.path} not readable ({exc.strerror}); needs root or CAP_SYSLOG")
                return
        self._write_clock_mark()
        self.thread.start()

    def _write_clock_mark(self) -> None:
        """Put one record in the kernel log, to learn the kernel clock's offset exactly.

        Records are stamped with the kernel's own clock, which can drift from
        CLOCK_MONOTONIC by milliseconds (seen under emulation: a kill "detected" 10 ms
        before the kernel logged it). The mark's stamp, taken at a known wall time, gives
        the offset. Without write access the estimate from CLOCK_MONOTONIC stays.
        """
        self._mark = f"oom-harness: clock mark {os.getpid()}-{id(self):x}"
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                before = time.time()
                os.write(fd, f"<6>{self._mark}\n".encode())
                self._mark_wall = (before + time.time()) / 2
            finally:
                os.close(fd)
        except OSError:
            self._mark_wall = None

    def stop(self) -> None:
        if not self.thread.stop():
            return  # still reading (stuck in a system call): its descriptors stay open
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _wake_up(self) -> None:
        os.write(self._wake_w, b"x")

    def _failure(self, exc: Exception) -> str:
        if isinstance(exc, OSError):
            return f"reading {self.path} failed during the run: {exc.strerror or exc}"
        return f"reading {self.path} failed during the run: {first_line(exc)}"

    def _follow(self, stop: threading.Event) -> None:
        assert self._fd is not None
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not stop.is_set():
            if not poller.poll(5000):
                continue
            self._drain()

    def _drain(self) -> None:
        assert self._fd is not None
        while True:
            try:
                raw = os.read(self._fd, 8192)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # the ring buffer overwrote records before they were read
                    self._overrun = True
                    continue
                raise
            if not raw:
                raise LogEnded("the log ended (end of file)")
            record = parse_kmsg_record(raw.decode("utf-8", "replace"))
            if record is None:
                continue
            self._note_gap(record)
            if self._mark_wall is not None and record.text == self._mark:
                self.boot_wall = self._mark_wall - record.usec / 1e6
                self.clock = "kernel log mark"
                continue
            self._add([record])

    def _note_gap(self, record: KmsgRecord) -> None:
        """After an overrun, the records between the last one read and this one are lost:
        keep how many and when (kernel time), so a kill then is not judged from the log."""
        last, self._last = self._last, record
        if not self._overrun:
            return
        self._overrun = False
        lost = record.seq - last.seq - 1 if last is not None else None
        with self._lock:
            self.gaps.append(KmsgGap(last.usec if last is not None else 0, record.usec, lost))

    def lost_around(self, times: list[float], slack_s: float = 1.0) -> list[KmsgGap]:
        """The gaps in which one of ``times`` (Unix seconds) fell: records of those
        moments were overwritten before they were read."""
        with self._lock:
            gaps = list(self.gaps)
        return [g for g in gaps if any(self.boot_wall + g.from_usec / 1e6 - slack_s <= t
                                       <= self.boot_wall + g.to_usec / 1e6 + slack_s for t in times)]


def kills_from(kills: list[KernelKill], boot_wall: float) -> list[Kill]:
    """Kernel kills as ground-truth :class:`Kill` records (kernel time, victim, RSS)."""
    return [
        Kill(t=boot_wall + k.usec / 1e6, victim_pid=k.pid, victim_name=k.name,
             anon_rss_kb=k.anon_rss_kb, kernel_t=boot_wall + k.usec / 1e6, group_member=k.group_member)
        for k in kills
    ]
