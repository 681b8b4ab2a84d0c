"""One-line stdout events in a fixed ``[TAG] key=value ...`` shape.

The harness counts and parses these lines from container logs, and a worker can be
SIGKILLed at any moment, so every line is written whole and flushed immediately.
"""

from __future__ import annotations


def emit(line: str) -> None:
    """Write one log line to stdout and flush it before anything else can happen."""
    print(line, flush=True)


def format_mb(value: float | None) -> str:
    """Render a MB quantity with one decimal, or ``None`` when unknown (the harness parses both)."""
    return "None" if value is None else f"{value:.1f}"
