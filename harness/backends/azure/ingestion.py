"""Waiting out ingestion delay: logs and metrics reach Azure Monitor minutes after the fact.

The run looks again every ``interval`` seconds until two looks in a row agree (same row
counts, same metric points, same restart counts) and the data has caught up with the run
(``ready``), bounded by ``timeout``. What it has by then is what the run reports, with a
fact saying whether it settled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.backends.azure.mapping import Collected


@dataclass(frozen=True)
class Settled:
    """The last look, and how the wait went."""

    collected: Collected
    stable: bool
    looks: int
    waited_s: float

    def fact(self) -> dict[str, Any]:
        return {"stable": self.stable, "looks": self.looks, "waited_s": round(self.waited_s, 1)}


def wait_until_stable(
    collect: Callable[[], Collected], ready: Callable[[Collected], bool], *, timeout: float, interval: float,
    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda line: None,
) -> Settled:
    """Collect until two consecutive looks have the same signature and ``ready`` holds."""
    started = clock()
    previous: tuple[int, ...] | None = None
    looks = 0
    while True:
        current = collect()
        looks += 1
        signature = current.signature()
        if signature == previous and ready(current):
            return Settled(current, True, looks, clock() - started)
        if clock() - started + interval > timeout:
            log(f"ingestion: still changing after {clock() - started:.0f}s; reporting what has arrived")
            return Settled(current, False, looks, clock() - started)
        log(f"ingestion: look {looks} found {_describe(signature)}; next look in {interval:g}s")
        previous = signature
        sleep(interval)


def _describe(signature: tuple[int, ...]) -> str:
    names = ("system rows", "console rows", "memory minutes", "restart minutes", "replica restarts")
    return ", ".join(f"{n} {'n/a' if v < 0 else v}" for n, v in zip(names, signature, strict=False))
