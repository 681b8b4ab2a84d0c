"""Engine state: ``State.OOMKilled`` and ``RestartCount`` from inspecting the container.

``RestartCount`` is the analogue of the replica API's restartCount and Azure's
RestartCount metric. ``State.OOMKilled`` is cleared when the container starts again, so
the container is inspected right after each ``die`` event, not only at the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.evidence import Observation

STATE = "engine_state"
RESTARTS = "restart_count"


class StateTracker:
    """Turns successive inspections into observations (pure; fed by the collector)."""

    def __init__(self) -> None:
        self.restart_count: int | None = None
        self.oom_exits: set[str] = set()
        self.last: dict[str, Any] = {}

    def update(self, attrs: Mapping[str, Any], t: float) -> list[Observation]:
        """Feed one ``docker inspect`` result; return the new observations it shows."""
        state = attrs.get("State") or {}
        found: list[Observation] = []
        finished = str(state.get("FinishedAt") or "")
        if state.get("OOMKilled") and finished and finished not in self.oom_exits:
            self.oom_exits.add(finished)
            found.append(Observation(STATE, t, "oom_killed", True,
                                     {"exit_code": state.get("ExitCode"), "finished_at": finished}))
        count = int(attrs.get("RestartCount") or 0)
        if self.restart_count is not None and count > self.restart_count:
            found += [Observation(RESTARTS, t, "restart", True, {"restart_count": count})
                      for _ in range(count - self.restart_count)]
        self.restart_count = count
        self.last = {
            "status": state.get("Status"), "exit_code": state.get("ExitCode"),
            "oom_killed": bool(state.get("OOMKilled")), "restart_count": count,
            "pid": state.get("Pid"), "started_at": state.get("StartedAt"), "finished_at": finished,
        }
        return found


class EngineStateCollector:
    """Inspects the container on demand (after each die) and every ``interval`` seconds."""

    def __init__(self, inspect: Callable[[], Mapping[str, Any]], interval: float = 0.5) -> None:
        self._inspect = inspect
        self.tracker = StateTracker()
        self.observations: list[Observation] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), name="engine-state", daemon=True)

    def start(self) -> None:
        self.record()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.record()

    def record(self) -> None:
        """Inspect now (thread-safe); errors are ignored, the container may be mid-restart."""
        try:
            attrs = self._inspect()
        except Exception:  # noqa: BLE001 - a missing container or a busy engine: try next time
            return
        with self._lock:
            self.observations.extend(self.tracker.update(attrs, time.time()))

    @property
    def state(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.tracker.last)

    def snapshot(self) -> list[Observation]:
        with self._lock:
            return list(self.observations)

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.record()
