"""The background allocator behind ``POST /start``: a leak that grows chunk by chunk.

It runs on its own daemon thread so the request that started it returns at once and the
other gunicorn threads keep answering /health while memory climbs towards the limit.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from . import alloc
from .logline import emit, format_mb


@dataclass(frozen=True)
class Plan:
    """How the allocator grows: ``chunk_mb`` every ``pause_seconds`` until ``target_mb``."""

    chunk_mb: int
    pause_seconds: float
    target_mb: int


class GradualAllocator:
    """Grows a :class:`~harness.lab.alloc.BlockStore` on a background thread, one run at a time."""

    def __init__(self, store: alloc.BlockStore) -> None:
        self._store = store
        # Guards _running and makes "check stopped, then retain block" atomic with stop(),
        # so a block finished just after /reset cannot slip back into the cleared store.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = False

    @property
    def running(self) -> bool:
        """True while a run is in progress."""
        with self._lock:
            return self._running

    def start(self, plan: Plan) -> bool:
        """Start a run; False (and nothing started) when one is already in progress."""
        with self._lock:
            if self._running:
                return False
            self._running = True
            self._stop = threading.Event()
            stop = self._stop
        thread = threading.Thread(target=self._run, args=(plan, stop), name="oom-allocator", daemon=True)
        thread.start()
        return True

    def stop(self) -> None:
        """Ask the current run to stop; it retains nothing further after this returns."""
        with self._lock:
            self._stop.set()

    def _retain(self, block: bytearray, stop: threading.Event) -> bool:
        """Keep ``block`` unless the run was stopped meanwhile."""
        with self._lock:
            if stop.is_set():
                return False
            self._store.add(block)
            return True

    def _run(self, plan: Plan, stop: threading.Event) -> None:
        """Thread body: grow, and always clear the running flag, even after a crash."""
        try:
            self._grow(plan, stop)
        finally:
            with self._lock:
                self._running = False

    def _grow(self, plan: Plan, stop: threading.Event) -> None:
        """Allocate chunk after chunk, logging each, until the target or a stop."""
        pid = os.getpid()
        allocated_mb = 0
        while allocated_mb < plan.target_mb and not stop.is_set():
            # The last chunk is trimmed so the run ends exactly at target_mb.
            size_mb = min(plan.chunk_mb, plan.target_mb - allocated_mb)
            try:
                block = alloc.allocate_mb(size_mb)
            except MemoryError:
                emit(f"[OOM-TEST] MemoryError allocated_mb={allocated_mb} pid={pid}")
                return
            if not self._retain(block, stop):
                break
            allocated_mb += size_mb
            emit(f"[OOM-TEST] allocated_mb={allocated_mb} rss_mb={format_mb(alloc.rss_mb())} pid={pid}")
            if allocated_mb < plan.target_mb:
                stop.wait(plan.pause_seconds)
        if allocated_mb >= plan.target_mb:
            emit(f"[OOM-TEST] allocation complete allocated_mb={allocated_mb} pid={pid}")
        else:
            emit(f"[OOM-TEST] allocation stopped allocated_mb={allocated_mb} pid={pid}")
