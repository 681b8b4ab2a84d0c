"""How much slower a machine is than another: the factor that stretches bounded waits.

The same small CPU-bound Python workload is timed on the host and in the guest; their
ratio is the guest's slow-down. It is a rough figure (emulation slows some instructions
more than others), used only to stretch time-outs, and always reported beside the result.
"""

from __future__ import annotations

import time

ROUNDS = 5


def _workload() -> int:
    total = 0
    for i in range(200_000):
        total += i * i % 7
    return total


def calibrate() -> float:
    """Seconds the workload takes here: the best of a few rounds (least disturbed)."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        _workload()
        best = min(best, time.perf_counter() - started)
    return best


def time_scale(guest_s: float, host_s: float) -> float:
    """The guest's slow-down against the host, at least 1, to one decimal."""
    if host_s <= 0:
        return 1.0
    return max(1.0, round(guest_s / host_s, 1))
