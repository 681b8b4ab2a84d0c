"""One-line stdout events in a fixed ``[TAG] key=value ...`` shape.

The harness counts and parses these lines from container logs, and a worker can be
SIGKILLed at any moment, so every line is written whole and flushed immediately.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()


def emit(line: str) -> None:
    """Write one log line to stdout and flush it before anything else can happen.

    The line and its newline go out in one locked write: ``print`` writes them separately,
    so two request threads logging at once produced joined lines
    (``[REQ] start ... pid=13[REQ] start ... pid=13``) and a lost newline.
    """
    with _lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def format_mb(value: float | None) -> str:
    """Render a MB quantity with one decimal, or ``None`` when unknown (the harness parses both)."""
    return "None" if value is None else f"{value:.1f}"
