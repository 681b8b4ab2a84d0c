"""A single plain process that runs as the container's PID 1 and gets OOM-killed itself.

Unlike gunicorn, nothing here absorbs the kill: when the kernel kills this process the
container exits with 137, which is the platform-visible failure mode of the PID-1 lab.

    python -m harness.lab.pid1 --hard-mb 600                       # allocate at start-up, then hold
    python -m harness.lab.pid1 --leak-mb 16 --every-s 0.5 [--max-mb N]   # leak steadily
    ... [--port 8080]                                         # optional GET /health

SIGTERM and SIGINT end the process promptly with exit code 0, so ``docker stop`` is fast
even though a PID 1 without handlers would ignore SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from . import alloc
from .logline import emit, format_mb

HOLD_SLEEP_S = 3600.0


class Shutdown(Exception):
    """Raised from the signal handler so any sleep or allocation in progress ends at once."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    """Signal handler: unwind the main thread to :func:`main`."""
    raise Shutdown(signum)


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGINT into :class:`Shutdown` in the main thread."""
    signal.signal(signal.SIGTERM, _raise_shutdown)
    signal.signal(signal.SIGINT, _raise_shutdown)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; exactly one of --hard-mb and --leak-mb is required."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.lab.pid1", description="Allocate or leak memory as a plain PID 1 process."
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--hard-mb", type=int, help="allocate this many MB at start-up, then hold them")
    mode.add_argument("--leak-mb", type=int, help="leak this many MB every --every-s seconds")
    parser.add_argument("--every-s", type=float, default=0.5, help="leak period in seconds (default 0.5)")
    parser.add_argument("--max-mb", type=int, default=None, help="stop leaking (and hold) at this total")
    parser.add_argument("--chunk-mb", type=int, default=16, help="progress step for --hard-mb (default 16)")
    parser.add_argument("--port", type=int, default=None, help="serve GET /health on this port (0 = any)")
    parser.add_argument("--host", default="0.0.0.0", help="address for --port (default 0.0.0.0)")
    args = parser.parse_args(argv)
    for name in ("hard_mb", "leak_mb", "max_mb", "chunk_mb"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.every_s <= 0:
        parser.error("--every-s must be > 0")
    return args


def _log_progress(store: alloc.BlockStore) -> None:
    """One progress line: MB held and RSS, the numbers to compare with the kill point."""
    emit(f"[PID1] allocated_mb={round(store.total_mb)} rss_mb={format_mb(alloc.rss_mb())} pid={os.getpid()}")


def hold_forever() -> None:
    """Keep the process (and its memory) alive until a signal ends it."""
    while True:
        time.sleep(HOLD_SLEEP_S)


def run_hard(total_mb: int, chunk_mb: int, store: alloc.BlockStore) -> None:
    """Allocate ``total_mb`` right away in ``chunk_mb`` steps, then hold it."""
    emit(f"[PID1] allocating {total_mb} MB pid={os.getpid()}")
    allocated_mb = 0
    while allocated_mb < total_mb:
        size_mb = min(chunk_mb, total_mb - allocated_mb)
        store.add(alloc.allocate_mb(size_mb))
        allocated_mb += size_mb
        _log_progress(store)
    emit(f"[PID1] holding allocated_mb={allocated_mb} pid={os.getpid()}")
    hold_forever()


def run_leak(leak_mb: int, every_s: float, max_mb: int | None, store: alloc.BlockStore) -> None:
    """Leak ``leak_mb`` every ``every_s`` seconds, up to ``max_mb`` if given, then hold."""
    emit(f"[PID1] leaking {leak_mb} MB every {every_s:g} s pid={os.getpid()}")
    allocated_mb = 0
    while max_mb is None or allocated_mb < max_mb:
        size_mb = leak_mb if max_mb is None else min(leak_mb, max_mb - allocated_mb)
        store.add(alloc.allocate_mb(size_mb))
        allocated_mb += size_mb
        _log_progress(store)
        time.sleep(every_s)
    emit(f"[PID1] leak cap reached allocated_mb={allocated_mb} pid={os.getpid()}")
    hold_forever()


def _health_handler(store: alloc.BlockStore) -> type[BaseHTTPRequestHandler]:
    """A request handler class answering GET /health with the process's state."""

    class HealthHandler(BaseHTTPRequestHandler):
        """GET /health only; everything else is 404."""

        def do_GET(self) -> None:
            """Answer /health with status, pid and MB held."""
            if self.path.split("?")[0] != "/health":
                self._reply(404, {"error": "not found"})
                return
            self._reply(200, {"status": "healthy", "pid": os.getpid(), "allocated_mb": round(store.total_mb, 1)})

        def _reply(self, status: int, payload: dict[str, object]) -> None:
            """Send ``payload`` as a JSON response."""
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Silence per-request access logs; stdout is reserved for [PID1] lines."""

    return HealthHandler


def serve_health(host: str, port: int, store: alloc.BlockStore) -> ThreadingHTTPServer:
    """Serve /health on a daemon thread; the main thread stays free for allocation."""
    server = ThreadingHTTPServer((host, port), _health_handler(store))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    emit(f"[PID1] health server listening port={server.server_address[1]} pid={os.getpid()}")
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen mode until a signal arrives; exit 0 on SIGTERM/SIGINT."""
    args = parse_args(argv)
    install_signal_handlers()
    store = alloc.BlockStore()
    try:
        if args.port is not None:
            serve_health(args.host, args.port, store)
        if args.hard_mb is not None:
            run_hard(args.hard_mb, args.chunk_mb, store)
        else:
            run_leak(args.leak_mb, args.every_s, args.max_mb, store)
    except Shutdown as stop:
        # A second signal must not interrupt the goodbye line with a traceback.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        emit(f"[PID1] received {signal.Signals(stop.signum).name}, exiting pid={os.getpid()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
