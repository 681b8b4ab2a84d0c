"""The console-log collector: follows the container's log stream during the run, and
reads the whole log once when stopped.

Two reads, for two uses. While the run goes on, the stream feeds a
:class:`~harness.collectors.console_logs.LiveConsole`: the lab app's allocated MB and the
kill lines so far, for step conditions and the progress line. The stream ends when the
container exits (a restart does not resume it), which is no failure. The evidence is the
whole log read at the stop (``docker logs --timestamps``), every line of every
incarnation, parsed by :func:`~harness.collectors.console_logs.parse_logs`.

The source is unavailable when that read failed (no lines at all), or when the stream
failed during the run (its live figures stopped).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from harness.collectors.base import CollectorThread, ThreadedCollector
from harness.collectors.console_logs import LiveConsole, parse_logs
from harness.errors import first_line
from harness.evidence import Observation, SourceStatus


class ConsoleFollower(ThreadedCollector[Observation]):
    """The container's console logs: followed live, read whole at the stop.

    Until the stop, ``snapshot`` gives the lines the stream showed that a pattern knows;
    after it, every line of the whole log (the evidence).

    ``open_stream`` opens the follow stream (called in the thread; an iterable of byte
    chunks of timestamped lines; closed by ``stop`` when it has a ``close``);
    ``read_all`` returns the whole timestamped log.
    """

    what = "the container's log stream"

    def __init__(self, open_stream: Callable[[], Iterable[bytes]], read_all: Callable[[], bytes]) -> None:
        super().__init__(CollectorThread.follow("console", self._follow, unblock=self._close))
        self.console = LiveConsole(self._seen)
        self.lines = 0  # lines in the whole log read at the stop
        self._open_stream = open_stream
        self._read_all = read_all
        self._stream: Any = None
        self._stopped = False
        self._read_error: str | None = None

    @property
    def allocated_mb(self) -> float | None:
        """The lab app's last progress line's allocated MB, as the stream showed it."""
        return self.console.allocated_mb

    @property
    def kill_lines(self) -> int:
        """Kill lines the stream showed so far."""
        return self.console.kill_lines

    def stop(self) -> None:
        """Close the stream, then read the whole log once (later calls do nothing): the
        snapshot becomes that log's observations (none when it could not be read)."""
        with self._lock:
            first, self._stopped = not self._stopped, True
        self.thread.stop()
        if not first:
            return
        ended = time.time()
        try:
            raw = self._read_all().decode("utf-8", "replace")
        except Exception as exc:  # noqa: BLE001 - the engine's or its socket's: the source is unavailable
            self._read_error = f"the container's logs could not be read: {first_line(exc)}"
            raw = ""
        found = parse_logs(raw, fallback_t=ended)
        with self._lock:
            self._items = found
            self.lines = raw.count("\n")

    def status(self) -> SourceStatus:
        if self._read_error is not None:
            return SourceStatus.unavailable(self._read_error)
        return super().status()

    def _follow(self, stop: threading.Event) -> None:
        stream = self._open_stream()
        with self._lock:
            self._stream = stream
        if stop.is_set():  # stopped while the stream was being opened
            self._close()
            return
        for chunk in stream:
            for line in chunk.decode("utf-8", "replace").splitlines():
                self.console.feed(line)

    def _seen(self, obs: Observation) -> None:
        with self._lock:
            if not self._stopped:
                self._items.append(obs)

    def _close(self) -> None:
        with self._lock:
            stream = self._stream
        close = getattr(stream, "close", None)
        if close is not None:
            close()
