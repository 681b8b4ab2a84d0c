"""Small facts about this machine's processes."""

from __future__ import annotations

import os
import subprocess

from harness.errors import HarnessError


def alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (one of another user's counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
