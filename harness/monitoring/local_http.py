"""One small HTTP server on 127.0.0.1 in a daemon thread, for the exporter and the
webhook receiver: bound to a port the kernel picks, stopped (bounded) when the block ends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

#: ``handle(method, path, body) -> (status, content type, body)``
Handler = Callable[[str, str, bytes], tuple[int, str, bytes]]

MAX_BODY = 4 * 1024 * 1024


class LocalServer:
    """Serves ``handle`` on 127.0.0.1 from ``start`` (or ``with``) to ``stop``."""

    def __init__(self, name: str, handle: Handler) -> None:
        self.name = name
        self._handle = handle
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not started"
        return int(self._server.server_address[1])

    def start(self) -> LocalServer:
        handle = self._handle

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                body = self.rfile.read(length) if length else b""
                status, kind, answer = handle(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = _serve  # noqa: N815 - http.server's naming
            do_POST = _serve  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's signature
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent; waits at most 2 s for the thread)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
