"""The faults: each is a function that, given the run in progress, does one bad thing to it.

A fault runs on its own thread beside the run. It waits for the run's target container
(by the owner label of the run's process), waits a moment into the run so that it lands
around the first kill, then acts. Every fault undoes what it did (unpause, restart the
engine, stop the hogs, restore the kernel setting) before it returns, also when the run
ends first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from harness.backends.docker.owner import Owner
from harness.config import HarnessConfig
from harness.procs import alive

Log = Callable[[str], None]

DOCKERD_PID = Path("/var/run/docker.pid")
DEVKMSG_SETTING = Path("/proc/sys/kernel/printk_devkmsg")


@dataclass
class RunInProgress:
    """What a fault may touch: the engine, the run's process ids and the clock's scale."""

    client: docker.DockerClient
    config: HarnessConfig
    pids: list[int]
    time_scale: float = 1.0
    log: Log = print
    ended: threading.Event = field(default_factory=threading.Event)
    notes: list[str] = field(default_factory=list)

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` (scaled to this machine's speed); False when the run ended meanwhile."""
        return not self.ended.wait(seconds * self.time_scale)

    def target(self, timeout_s: float = 60.0) -> Any | None:
        """The first run's target container once it runs; None when the run ended first."""
        deadline = time.monotonic() + timeout_s * self.time_scale
        key = f"{self.config.label}.owner"
        while time.monotonic() < deadline and not self.ended.is_set():
            try:
                found = self.client.containers.list(
                    filters={"label": [key, f"{self.config.label}=run"]}, ignore_removed=True)
            except docker.errors.DockerException:
                found = []
            for container in found:
                owner = Owner.parse(container.labels.get(key, ""))
                if owner is not None and owner.pid == self.pids[0]:
                    return container
            time.sleep(0.1)
        return None


@dataclass(frozen=True)
class Fault:
    """One fault: its name, what it does (for the table) and the function that does it."""

    name: str
    what: str
    act: Callable[[RunInProgress], None]
    runs_at_once: int = 1


def nothing(run: RunInProgress) -> None:
    """The baseline: what each source sees when nothing interferes."""


def restart_engine(run: RunInProgress) -> None:
    """Kill dockerd (SIGKILL, as a crash does) a moment into the run and start it again.

    Where systemd runs dockerd (the guest) it restarts it by itself; elsewhere the
    harness's own set-up starts it, as ``harness setup`` does."""
    if run.target() is None or not run.sleep(2.0):
        return
    pid = _dockerd_pid()
    if pid is None:
        run.notes.append("no dockerd process found to kill")
        return
    run.log(f"fault: killing dockerd (pid {pid})")
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 30.0)
    started = time.monotonic()
    if not _under_systemd():
        from harness.backends.docker import engine

        engine.ensure_engine(run.config, log=run.log).close()
    _wait_engine(run.client, 120.0)
    run.notes.append(f"engine back after {time.monotonic() - started:.1f} s")


def pause_container(run: RunInProgress) -> None:
    """Freeze the target (``docker pause``, the cgroup freezer) for 3 s around the first kill."""
    container = run.target()
    if container is None or not run.sleep(3.0):
        return
    try:
        container.pause()
    except docker.errors.DockerException as exc:  # the run may have removed it already
        run.notes.append(f"pause refused: {exc}")
        return
    try:
        time.sleep(3.0 * run.time_scale)
    finally:
        try:
            container.unpause()
        except docker.errors.DockerException as exc:
            run.notes.append(f"unpause refused: {exc}")


def flood_kernel_log(run: RunInProgress) -> None:
    """Write bursts of records to /dev/kmsg from just before the first kill until the run
    ends (at most 60 s), each burst several times the size of the kernel's ring buffer, so
    that the kernel log collector loses records, the kill's among them."""
    if run.target() is None or not run.sleep(1.0):
        return
    before = DEVKMSG_SETTING.read_text().strip()
    DEVKMSG_SETTING.write_text("on\n")  # writes to /dev/kmsg are rate-limited otherwise
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    lines = 0
    try:
        deadline = time.monotonic() + 60.0 * run.time_scale
        while not run.ended.is_set() and time.monotonic() < deadline:
            for _ in range(4000):
                os.write(fd, f"<7>oom-harness fault: flood {lines:07d} {'x' * 100}\n".encode())
                lines += 1
            run.ended.wait(0.2)
    finally:
        os.close(fd)
        DEVKMSG_SETTING.write_text(f"{before}\n")
    run.notes.append(f"{lines} records written to /dev/kmsg")


HOG = "while True: pass"


def cpu_hogs(run: RunInProgress, count: int = 2) -> None:
    """``count`` CPU-bound processes from the run's start to its end."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(count)]
    try:
        run.ended.wait(600.0)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


FAULTS: dict[str, Fault] = {fault.name: fault for fault in (
    Fault("none", "nothing injected (the baseline)", nothing),
    Fault("engine-restart", "dockerd killed 2 s into the run and started again", restart_engine),
    Fault("pause", "container paused 3 s into the run, for 3 s", pause_container),
    Fault("kmsg-flood", "/dev/kmsg flooded from 1 s into the run to its end", flood_kernel_log),
    Fault("two-at-once", "a second run of the same scenario on the same engine", nothing, runs_at_once=2),
    Fault("cpu-hog", "2 CPU-bound processes beside the run", cpu_hogs),
)}


def _dockerd_pid() -> int | None:
    try:
        pid = int(DOCKERD_PID.read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if pid > 0 and Path(f"/proc/{pid}").exists():
        return pid
    found = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True, check=False).stdout.split()
    return int(found[0]) if found else None


def _under_systemd() -> bool:
    """Whether systemd supervises dockerd here (it then restarts it by itself)."""
    return Path("/run/systemd/system").is_dir()


def _wait_gone(pid: int, timeout_s: float) -> None:
    """Until ``pid`` has exited (a zombie nobody reaped yet counts as exited)."""
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _wait_engine(client: docker.DockerClient, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            client.ping()
            return
        except Exception:  # noqa: BLE001 - any failure means not back yet
            time.sleep(0.25)
