"""Engine events: the container's lifecycle (the analogue of ContainerAppSystemLogs_CL)
and the engine's own ``oom`` event.

Docker emits ``oom`` when the container's cgroup hits an OOM, whichever process dies;
whether it then reports ``die`` depends on whether PID 1 died. Which OOM signals an
engine emits differs across Docker versions, so the result records the engine version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from harness.collectors.base import CollectorThread, ThreadedCollector
from harness.errors import first_line
from harness.evidence import Observation

LIFECYCLE = "lifecycle_events"
OOM_EVENT = "engine_oom_event"
LIFECYCLE_ACTIONS = {"create", "start", "restart", "die", "kill", "stop", "pause", "unpause"}


def event_to_observation(event: Mapping[str, Any]) -> Observation | None:
    """One engine event as an observation, or None for actions the matrix ignores."""
    action = str(event.get("Action") or event.get("status") or "")
    attrs = dict((event.get("Actor") or {}).get("Attributes") or {})
    t = int(event.get("timeNano") or int(event.get("time", 0)) * 1_000_000_000) / 1e9
    if action == "oom":
        return Observation(OOM_EVENT, t, "oom", True, {})
    if action not in LIFECYCLE_ACTIONS:
        return None
    detail: dict[str, Any] = {}
    if action == "die":
        code = int(attrs.get("exitCode", "0"))
        detail["exit_code"] = code
        return Observation(LIFECYCLE, t, "die", code != 0, detail)
    if action == "kill":
        detail["signal"] = attrs.get("signal")
    return Observation(LIFECYCLE, t, action, False, detail)


class StreamEnded(Exception):
    """The event stream ended while the run went on."""


class EngineEventsCollector(ThreadedCollector[Observation]):
    """Streams a container's events in a thread; calls ``on_oom`` right after each oom,
    ``on_die`` right after each die and ``on_start`` right after each start (the first one
    included).

    Unavailable when the stream failed or ended before the run did: events after that
    moment were not seen, so "no event" would not mean "nothing happened". ``stop`` closes
    the stream, which ends it with an error that is the stop's, not a failure.
    """

    what = "the engine's event stream"

    def __init__(
        self, events_stream: Any, on_die: Callable[[], None] | None = None,
        on_start: Callable[[], None] | None = None, on_oom: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(CollectorThread.follow("engine-events", self._follow, unblock=self._close))
        self._stream = events_stream
        self._on_die = on_die
        self._on_start = on_start
        self._on_oom = on_oom

    def stop(self) -> None:
        """Close the stream (also when the thread never ran: it holds a connection) and
        wait for the thread; the stop event is set before the stream is closed."""
        self.thread.stop()

    def _close(self) -> None:
        try:
            self._stream.close()
        except Exception:  # noqa: BLE001 - closing a finished stream may raise; nothing to do
            pass

    def _failure(self, exc: Exception) -> str:
        if isinstance(exc, StreamEnded):
            return str(exc)
        text = first_line(exc, 200)
        return f"the engine's event stream failed during the run: {text}"

    def _follow(self, stop: threading.Event) -> None:
        for event in self._stream:
            obs = event_to_observation(event)
            if obs is None:
                continue
            self._add([obs])
            if obs.kind == "oom" and self._on_oom:
                self._on_oom()
            if obs.kind == "die" and self._on_die:
                self._on_die()
            if obs.kind == "start" and self._on_start:
                self._on_start()
        if not stop.is_set():
            raise StreamEnded("the engine's event stream ended before the run did")
