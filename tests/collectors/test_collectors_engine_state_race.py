"""Two inspections of the container (the events' thread after a die, the periodic tick)
applied out of order must not count one restart twice."""

from __future__ import annotations

import threading
import time
from typing import Any

from harness.collectors.engine_state import EngineStateCollector


def _inspected(restarts: int, started: str) -> dict[str, Any]:
    return {"RestartCount": restarts, "State": {"Status": "running", "Running": True, "OOMKilled": False,
                                                 "StartedAt": started, "FinishedAt": "", "ExitCode": 0, "Pid": 7}}


def test_an_older_inspection_finishing_late_does_not_count_a_restart_twice() -> None:
    old, new = _inspected(0, "2026-12-06T01:00:00Z"), _inspected(1, "2026-12-06T01:00:05Z")
    calls = 0
    release = threading.Event()

    def inspect() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the baseline, before the restart
            return old
        if calls == 2:  # the slow one: it read the state before the restart, returns late
            release.wait(1.0)
            return old
        return new

    collector = EngineStateCollector(inspect, interval=60)
    collector.record()
    slow = threading.Thread(target=collector.record)
    slow.start()
    while calls < 2:
        time.sleep(0.001)
    fast = threading.Thread(target=collector.record)
    fast.start()
    fast.join(0.2)  # without one lock over inspect and apply, it finishes now, before the slow one
    release.set()
    slow.join()
    fast.join()
    collector.record()  # the next tick sees the new state again
    restarts = [o for o in collector.snapshot() if o.source == "restart_count"]
    assert len(restarts) == 1, f"one restart counted {len(restarts)} times"
