"""Memory allocation helpers whose memory really is resident.

Linux backs anonymous memory lazily, so a large ``bytearray`` only costs RSS once its
pages are written. Every helper here writes one byte per page so the cgroup is charged
for the full size at once, which is what makes OOM kills happen where the lab expects.
"""

from __future__ import annotations

import threading
from pathlib import Path

PAGE_SIZE = 4096
MB = 1024 * 1024
KB = 1024

STATUS_PATH = Path("/proc/self/status")


def touch_pages(block: bytearray) -> None:
    """Write a non-zero byte into every page of ``block`` to force it resident."""
    pages = len(range(0, len(block), PAGE_SIZE))
    # One extended-slice assignment writes every page in C, far faster than a Python loop.
    block[::PAGE_SIZE] = b"\x01" * pages


def allocate_touched(size_bytes: int) -> bytearray:
    """Allocate ``size_bytes`` and make every page resident."""
    block = bytearray(size_bytes)
    touch_pages(block)
    return block


def allocate_mb(mb: int) -> bytearray:
    """Allocate ``mb`` mebibytes, all resident."""
    return allocate_touched(mb * MB)


def rss_kb(status_path: Path = STATUS_PATH) -> int | None:
    """This process's resident set size in kB from ``VmRSS``, or None if unreadable."""
    try:
        with status_path.open() as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb(status_path: Path = STATUS_PATH) -> float | None:
    """This process's resident set size in MB, or None if unreadable."""
    kb = rss_kb(status_path)
    return None if kb is None else kb / KB


class BlockStore:
    """A thread-safe list of retained blocks (what keeps leaked memory alive)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocks: list[bytearray] = []

    def add(self, block: bytearray) -> int:
        """Retain ``block``; return the number of blocks now held."""
        with self._lock:
            self._blocks.append(block)
            return len(self._blocks)

    def clear(self) -> int:
        """Drop every block so its memory can be freed; return how many were dropped."""
        with self._lock:
            dropped = len(self._blocks)
            self._blocks = []
            return dropped

    @property
    def count(self) -> int:
        """Number of blocks held."""
        with self._lock:
            return len(self._blocks)

    @property
    def total_bytes(self) -> int:
        """Bytes held across all blocks."""
        with self._lock:
            return sum(len(block) for block in self._blocks)

    @property
    def total_mb(self) -> float:
        """MB held across all blocks."""
        return self.total_bytes / MB
