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
from dataclasses import dataclass

from harness.evidence import Kill, Observation, SourceStatus

KMSG_PATH = "/dev/kmsg"
SOURCE = "kernel_log"

_OOM_KILL = re.compile(
    r"oom-kill:.*?oom_memcg=(?P<oom_memcg>[^,]*),task_memcg=(?P<task_memcg>[^,]*),"
    r"task=(?P<task>[^,]*),pid=(?P<pid>\d+)"
)
_KILLED = re.compile(
    r"Memory cgroup out of memory: Killed process (?P<pid>\d+) \((?P<name>[^)]*)\)"
    r".*?anon-rss:(?P<anon>\d+)kB"
)


@dataclass(frozen=True)
class KmsgRecord:
    """One /dev/kmsg record: ``prio,seq,usec,flags;text``."""

    seq: int
    usec: int
    text: str


@dataclass(frozen=True)
class KernelKill:
    """One OOM kill the kernel logged for a given cgroup."""

    usec: int
    pid: int
    name: str | None
    memcg: str
    anon_rss_kb: int | None


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
    """The OOM kills in ``records`` whose memory cgroup belongs to ``container_id``.

    Pairs each ``oom-kill:`` line with the ``Killed process`` line that follows it for the
    same PID, which carries the anon RSS.
    """
    kills: list[KernelKill] = []
    pending: dict[int, KernelKill] = {}
    for record in records:
        header = _OOM_KILL.search(record.text)
        if header and container_id in (header["task_memcg"] + header["oom_memcg"]):
            kill = KernelKill(record.usec, int(header["pid"]), header["task"], header["task_memcg"], None)
            pending[kill.pid] = kill
            kills.append(kill)
            continue
        killed = _KILLED.search(record.text)
        if killed and int(killed["pid"]) in pending:
            old = pending.pop(int(killed["pid"]))
            kills[kills.index(old)] = KernelKill(old.usec, old.pid, killed["name"], old.memcg, int(killed["anon"]))
    return kills


def to_observations(kills: list[KernelKill], boot_wall: float) -> list[Observation]:
    """Kernel kills as matrix observations; ``boot_wall`` converts kernel time to Unix time."""
    return [
        Observation(SOURCE, boot_wall + k.usec / 1e6, "oom_kill", True,
                    {"victim_pid": k.pid, "victim_name": k.name, "anon_rss_kb": k.anon_rss_kb,
                     "memcg": k.memcg})
        for k in kills
    ]


def kernel_boot_wall() -> float:
    """Unix time of kernel time zero (kmsg stamps are on the monotonic clock)."""
    return time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)


class KernelLogCollector:
    """Follows /dev/kmsg in a thread from the moment it starts."""

    def __init__(self, path: str = KMSG_PATH) -> None:
        self.path = path
        self.records: list[KmsgRecord] = []
        self.status = SourceStatus.ok()
        self.boot_wall = kernel_boot_wall()
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kernel-log", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as exc:
            self.status = SourceStatus.unavailable(f"{self.path} not readable ({exc.strerror}); needs root or CAP_SYSLOG")
            return
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def snapshot(self) -> list[KmsgRecord]:
        with self._lock:
            return list(self.records)

    def _loop(self) -> None:
        assert self._fd is not None
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
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
                if exc.errno == errno.EPIPE:  # the ring buffer overwrote records; go on
                    continue
                raise
            record = parse_kmsg_record(raw.decode("utf-8", "replace"))
            if record is not None:
                with self._lock:
                    self.records.append(record)


def kills_from(kills: list[KernelKill], boot_wall: float) -> list[Kill]:
    """Kernel kills as ground-truth :class:`Kill` records (kernel time, victim, RSS)."""
    return [
        Kill(t=boot_wall + k.usec / 1e6, victim_pid=k.pid, victim_name=k.name,
             anon_rss_kb=k.anon_rss_kb, kernel_t=boot_wall + k.usec / 1e6)
        for k in kills
    ]
