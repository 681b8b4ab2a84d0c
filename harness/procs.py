"""Small facts about this machine's processes."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from harness.errors import HarnessError


def alive(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether a process with ``pid`` runs (one of another user's counts as alive).

    A zombie (exited, not yet reaped by its parent) is not alive: a dockerd killed a moment
    ago is one until init reaps it, and its pid file must count as stale at once."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_state(pid, proc) not in ("Z", "X")


def process_state(pid: int, proc: Path = Path("/proc")) -> str | None:
    """Field 3 of /proc/<pid>/stat (R, S, D, Z, ...); None when the process is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else None


def process_identity(pid: int | None = None, proc: Path = Path("/proc")) -> str:
    """``<host>/<pid>/<start ticks>`` of a process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{start_ticks(pid, proc) or 0}"


def start_ticks(pid: int, proc: Path) -> int | None:
    """Field 22 of /proc/<pid>/stat (the process's start time), None when it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def run_step(
    cmd: list[str], what: str, timeout_s: float, error: type[HarnessError] = HarnessError,
    env: dict[str, str] | None = None,
) -> None:
    """Run one long step (apt-get, debootstrap, pip download) with a time limit.

    A failure, a time-out or a missing program raises ``error`` naming the step, so the
    user learns which of several minutes-long steps went wrong.
    """
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what} timed out after {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise error(f"{what} could not start: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-600:]
        raise error(f"{what} failed (exit {done.returncode}): {tail}")
