"""Alertmanager's webhook receiver: records each notification with its arrival time.

It is a collector like the others (start, stop, snapshot, status): a notification it could
not read makes the source unavailable, naming it, because a lost notification could turn a
rule that fired into a gap."""

from __future__ import annotations

import json
import threading
import time

from harness.evidence import SourceStatus
from harness.evidence.alerts import AlertNotification, notifications_from_webhook
from harness.monitoring.local_http import LocalServer

WEBHOOK_PATH = "/alerts"


class WebhookReceiver:
    """Serves ``POST /alerts`` on 127.0.0.1 from ``start`` to ``stop``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[AlertNotification] = []
        self._error: str | None = None
        self.posts = 0
        self._server = LocalServer("alert-receiver", self._answer)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}{WEBHOOK_PATH}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def snapshot(self) -> list[AlertNotification]:
        with self._lock:
            return list(self._items)

    def status(self) -> SourceStatus:
        with self._lock:
            error = self._error
        return SourceStatus.unavailable(error) if error else SourceStatus.ok()

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if method != "POST" or path.split("?", 1)[0] != WEBHOOK_PATH:
            return 404, "text/plain", b"not found\n"
        received = time.time()
        try:
            found = notifications_from_webhook(json.loads(body), received)
        except (ValueError, TypeError, AttributeError) as exc:
            with self._lock:
                if self._error is None:
                    self._error = f"a webhook notification could not be read: {exc}"
            return 400, "text/plain", b"bad notification\n"
        with self._lock:
            self.posts += 1
            self._items.extend(found)
        return 200, "text/plain", b"ok\n"
