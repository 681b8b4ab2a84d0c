"""The live progress line: phase, allocated MB, memory, kills so far."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from harness.backends.base import LiveStatus


class ProgressLine:
    """Redraws one line on a terminal; prints a line per phase (and every 5 s) otherwise."""

    def __init__(self, label: str, live: Callable[[], LiveStatus], out: TextIO = sys.stderr) -> None:
        self.label = label
        self.live = live
        self.out = out
        self.phase = "starting"
        self.tty = out.isatty()
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._last_print = 0.0

    def start(self) -> None:
        self._thread.start()

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        if not self.tty:
            self._emit()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._emit()
        if self.tty:
            self.out.write("\n")
            self.out.flush()

    def text(self) -> str:
        try:
            s = self.live()
        except Exception:  # noqa: BLE001 - progress must never break a run
            return f"{self.label} {self.phase}"
        allocated = "-" if s.allocated_mb is None else f"{s.allocated_mb:.0f} MB"
        memory = "-" if s.memory_mb is None else f"{s.memory_mb:.0f} MB"
        return (f"{self.label} {time.monotonic() - self._t0:5.1f}s phase={self.phase} "
                f"allocated={allocated} memory={memory} kills={s.kills}")

    def _emit(self) -> None:
        self._last_print = time.monotonic()
        if self.tty:
            self.out.write("\r\033[K" + self.text())
        else:
            self.out.write(self.text() + "\n")
        self.out.flush()

    def _loop(self) -> None:
        while not self._stop.wait(0.25 if self.tty else 1.0):
            if self.tty or time.monotonic() - self._last_print >= 5.0:
                self._emit()
