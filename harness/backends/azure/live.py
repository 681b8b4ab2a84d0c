"""Live figures of a run on Azure, read from the lab app itself.

There is no cgroup or engine to watch from outside, so step conditions (``until: {kills:
1}``) and the progress line read the lab app's own ``/memory``: its view of the
container's cgroup ``oom_kills`` counter when it can read one, else the worker PID
changing, which is how the reference lab told a kill from outside. These figures only
steer the run; the evidence comes from what Azure recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.backends.base import LiveStatus
from harness.collectors.client import new_client
from harness.units import MIB


def _value(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


class LiveProbe:
    """GETs ``/memory`` at most every ``min_interval`` seconds; safe from several threads."""

    def __init__(
        self, base_url: str, path: str = "/memory", transport: httpx.BaseTransport | None = None,
        min_interval: float = 1.0, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.min_interval = min_interval
        self.clock = clock
        self._client = new_client(base_url, transport)
        self._lock = threading.Lock()
        self._last: float | None = None
        self._first_oom: int | None = None
        self._oom_kills = 0
        self._pids: list[int] = []
        self.memory_mb: float | None = None
        self.allocated_mb: float | None = None

    @property
    def kills(self) -> int:
        """Kills so far: the cgroup counter's rise, or the worker PID changes if more."""
        return max(self._oom_kills, max(0, len(self._pids) - 1))

    def refresh(self) -> None:
        """Read /memory again unless it was read less than ``min_interval`` ago."""
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < self.min_interval:
                return
            self._last = now
            try:
                response = self._client.get(self.path, timeout=2.0)
                body = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                body = None  # a worker being killed answers nothing: keep the last figures
            if isinstance(body, dict):
                self._read(body)

    def _read(self, body: dict[str, Any]) -> None:
        oom = _value(body, "cgroup", "oom_kills", "value")
        if isinstance(oom, int):
            if self._first_oom is None:
                self._first_oom = oom
            self._oom_kills = max(self._oom_kills, oom - self._first_oom)
        pid = body.get("pid")
        if isinstance(pid, int) and (not self._pids or self._pids[-1] != pid):
            self._pids.append(pid)
        usage = _value(body, "cgroup", "usage_bytes", "value")
        rss = body.get("rss_mb")
        if isinstance(usage, (int, float)):
            self.memory_mb = usage / MIB
        else:
            self.memory_mb = float(rss) if isinstance(rss, (int, float)) else None
        allocated = body.get("allocated_mb")
        self.allocated_mb = float(allocated) if isinstance(allocated, (int, float)) else None

    def status(self, exited: bool = False) -> LiveStatus:
        self.refresh()
        return LiveStatus(self.kills, self.memory_mb, self.allocated_mb, exited)

    def close(self) -> None:
        self._client.close()
