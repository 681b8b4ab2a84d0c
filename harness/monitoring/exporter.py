"""The exporter Prometheus scrapes for the run's container: the kubelet's
``/metrics/cadvisor`` and kube-state-metrics' page, rendered at each scrape from a
:class:`~harness.monitoring.kube_metrics.KubeView` the backend computes from its live
collectors."""

from __future__ import annotations

import threading
from collections.abc import Callable

from harness.monitoring.kube_metrics import KubeView, render_cadvisor, render_kube_state
from harness.monitoring.local_http import LocalServer

CADVISOR_PATH = "/metrics/cadvisor"
KUBE_STATE_PATH = "/metrics/kube-state-metrics"
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


class MetricsExporter(LocalServer):
    """Serves the two pages on 127.0.0.1; ``view`` is called once per scrape.

    A view that raises answers 500, so Prometheus marks the scrape failed (``up`` 0) and
    the series go stale: a failure never becomes a value."""

    def __init__(self, view: Callable[[], KubeView]) -> None:
        self._view = view
        self._count_lock = threading.Lock()
        self.scrapes = 0
        self.failures = 0
        super().__init__("metrics-exporter", self._answer)

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        render = {CADVISOR_PATH: render_cadvisor, KUBE_STATE_PATH: render_kube_state}.get(path.split("?", 1)[0])
        if render is None:
            return 404, "text/plain", b"not found\n"
        try:
            page = render(self._view())
        except Exception as exc:  # noqa: BLE001 - a failed scrape, as Prometheus records it
            with self._count_lock:
                self.failures += 1
            return 500, "text/plain", f"{type(exc).__name__}: {exc}\n".encode()
        with self._count_lock:
            self.scrapes += 1
        return 200, TEXT_FORMAT, page.encode()
