"""Small facts about this machine's processes."""

from __future__ import annotations

import os


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
