"""Engine state: ``State.OOMKilled`` and ``RestartCount`` from inspecting the container.

``RestartCount`` is the analogue of the replica API's restartCount and Azure's
RestartCount metric. What ``State.OOMKilled`` means depends on the engine, so it is read
as observed, per incarnation of the container (one ``StartedAt``):

- Docker 20.10 (measured here) sets it only when the container exits after an OOM kill
  and keeps it set after a restart-policy restart: a flag already set when an
  incarnation is first seen is that stale one, not a new kill.
- Docker 24 and later (26.1.5 measured in the cgroup v2 guest) set it as soon as any
  process of the container is OOM-killed, while the container keeps running, and clear
  it when the container starts again. A flag that turns on while the container runs is
  an ``oom_flag_running`` observation: the engine saw a kill the container survived.

The flag is one bit per incarnation, so it shows at most one kill per incarnation: a flag
seen while running and again at that incarnation's exit is one kill, not two. The
container is inspected right after each ``die`` event and every half second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.collectors.base import CollectorThread, ThreadedCollector
from harness.errors import first_line
from harness.evidence import ContainerState, Observation, SourceStatus

STATE = "engine_state"
RESTARTS = "restart_count"
FAILURES_BEFORE_UNAVAILABLE = 5


class StateTracker:
    """Turns successive inspections into observations (pure; fed by the collector)."""

    def __init__(self) -> None:
        self.restart_count: int | None = None
        self.last: dict[str, Any] = {}
        self._incarnation: str | None = None
        self._stale = False  # the flag was already set when this incarnation was first seen
        self._flagged: set[str] = set()  # incarnations whose kill was already counted
        self._exits: set[str] = set()  # FinishedAt of the OOMKilled exits already seen

    def update(self, attrs: Mapping[str, Any], t: float) -> list[Observation]:
        """Feed one ``docker inspect`` result; return the new observations it shows."""
        state = attrs.get("State") or {}
        started = str(state.get("StartedAt") or "")
        finished = str(state.get("FinishedAt") or "")
        # "restarting" (Running and Restarting both true) is an exit waiting for its restart.
        flag = bool(state.get("OOMKilled"))
        running = bool(state.get("Running")) and not bool(state.get("Restarting"))
        found: list[Observation] = []
        if started != self._incarnation:
            found += self._exit_seen_only_after_restart(flag, running, finished, t)
            self._incarnation, self._stale = started, flag and running
        if flag and running and not self._stale and started not in self._flagged:
            self._flagged.add(started)
            found.append(Observation(STATE, t, "oom_flag_running", True, {"started_at": started}))
        elif flag and not running and finished and finished not in self._exits:
            self._exits.add(finished)
            counted = started in self._flagged
            self._flagged.add(started)
            found.append(Observation(STATE, t, "oom_killed", not counted,
                                     {"exit_code": state.get("ExitCode"), "finished_at": finished,
                                      "already_flagged_running": counted}))
        if not flag:
            self._stale = False
        count = int(attrs.get("RestartCount") or 0)
        if self.restart_count is not None and count > self.restart_count:
            found += [Observation(RESTARTS, t, "restart", True, {"restart_count": count})
                      for _ in range(count - self.restart_count)]
        self.restart_count = count
        self.last = {
            "status": state.get("Status"), "exit_code": state.get("ExitCode"),
            "oom_killed": flag, "restart_count": count,
            "pid": state.get("Pid"), "started_at": started, "finished_at": finished,
        }
        return found

    def _exit_seen_only_after_restart(
        self, flag: bool, running: bool, finished: str, t: float
    ) -> list[Observation]:
        """An OOM exit no inspection caught: the restart policy started the container again
        before the inspection that follows the die event ran (likelier on a busy machine;
        pid1-oom beside two CPU-bound processes counted 3 of 4 exits once in 5 runs).
        Docker 20.10 keeps the flag set after that restart and the new incarnation carries
        the exit's FinishedAt, so the exit is counted when the new incarnation is first
        seen, once. (Docker 26 clears the flag at start: there this never fires.)"""
        if not (flag and running and finished) or finished.startswith("0001-") or finished in self._exits:
            return []
        self._exits.add(finished)
        counted = self._incarnation in self._flagged
        return [Observation(STATE, t, "oom_killed", not counted,
                            {"exit_code": None, "finished_at": finished, "already_flagged_running": counted,
                             "seen_after_restart": True})]


class EngineStateCollector(ThreadedCollector[Observation]):
    """Inspects the container on demand (after each die) and every ``interval`` seconds.

    A failed inspection is retried at the next tick (the container may be mid-restart);
    when none succeeds at all, or every one of the last few failed, the source is
    unavailable with the engine's own error as the reason.
    """

    what = "the engine state watch"

    def __init__(self, inspect: Callable[[], Mapping[str, Any]], interval: float = 0.5) -> None:
        super().__init__(CollectorThread.periodic("engine-state", interval, self._tick, delay_first=True))
        self._inspect = inspect
        self.tracker = StateTracker()
        self._successes = 0
        self._failures_in_a_row = 0
        self._last_error = ""
        self._broken: str | None = None  # an inspection the tracker could not read
        self._record_lock = threading.Lock()  # one inspection applied at a time, in order

    def start(self) -> None:
        if self.readable:
            self.record()
            self.thread.start()

    def stop(self) -> None:
        self.thread.stop()
        self.record()

    def _own_status(self) -> SourceStatus:
        """Available while inspections succeed; else why they do not."""
        if self._broken is not None:
            return SourceStatus.unavailable(self._broken)
        if self._successes and self._failures_in_a_row < FAILURES_BEFORE_UNAVAILABLE:
            return SourceStatus.ok()
        return SourceStatus.unavailable(f"the engine's inspect failed: {self._last_error or 'no answer'}")

    def record(self) -> None:
        """Inspect now (thread-safe; called from the events' thread after each die too); a
        failed inspection is counted, not raised. An inspection the tracker cannot read is
        kept as this collector's failure (the first one), not raised into the caller's thread.

        Inspect and apply happen under one lock: two inspections applied out of order (an
        older state after a newer one) would make the tracker see a restart twice."""
        with self._record_lock:
            self._record()

    def _record(self) -> None:
        try:
            attrs = self._inspect()
        except Exception as exc:  # noqa: BLE001 - a missing container or a busy engine: try next time
            with self._lock:
                self._failures_in_a_row += 1
                self._last_error = first_line(exc, 200)
            return
        with self._lock:
            self._successes += 1
            self._failures_in_a_row = 0
            try:
                self._items.extend(self.tracker.update(attrs, time.time()))
            except Exception as exc:  # noqa: BLE001 - kept for the status; the run goes on
                if self._broken is None:
                    self._broken = self._failure(exc)

    @property
    def state(self) -> ContainerState:
        """The container's state at the last inspection (every field unknown before one)."""
        with self._lock:
            return ContainerState(**self.tracker.last)

    def _tick(self) -> None:
        self.record()
