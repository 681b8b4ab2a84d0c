"""A background polling thread that always stops, shared by the live collectors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Poller:
    """Calls ``tick`` every ``interval`` seconds in a daemon thread until stopped.

    A ``tick`` that returns a number sets the wait before the next call (an adaptive
    pace); one that returns None keeps ``interval``. Exceptions in ``tick`` are kept (the
    first one) instead of killing the thread silently; ``stop`` re-raises nothing,
    callers read ``error``. ``wake`` cuts the current wait short (another thread learned
    that something changed).
    """

    def __init__(self, name: str, interval: float, tick: Callable[[], float | None]) -> None:
        self.interval = interval
        self._tick = tick
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.error: BaseException | None = None
        self.cpu_s = 0.0  # CPU time this thread used, for the sampler's overhead figure

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run the next tick now."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        started = time.thread_time()
        while not self._stop.is_set():
            wait = self.interval
            try:
                wait = self._tick() or self.interval
            except Exception as exc:  # noqa: BLE001 - kept for the report, the run goes on
                self.error = self.error or exc
            self.cpu_s = time.thread_time() - started
            self._wake.wait(wait)
            self._wake.clear()
