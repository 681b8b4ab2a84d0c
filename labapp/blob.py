"""Checksum a synthetic blob either fully buffered or streamed in chunks.

The two paths produce the same bytes and therefore the same sha256; they differ only in
peak memory: buffering holds the whole payload at once (size_mb), streaming holds one
chunk (chunk_mb). That difference, multiplied by concurrency, is what the blob lab is about.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

from .alloc import MB

#: Bytes cycle through this many values, one value per MiB, so content depends on offset only.
PATTERN_PERIOD = 251


def segment(index: int) -> bytes:
    """The content of the ``index``-th MiB of every blob."""
    return bytes([index % PATTERN_PERIOD]) * MB


def materialise(size_mb: int) -> bytearray:
    """Build the whole payload in one buffer, writing (and so touching) every page."""
    payload = bytearray(size_mb * MB)
    for index in range(size_mb):
        payload[index * MB : (index + 1) * MB] = segment(index)
    return payload


def chunks(size_mb: int, chunk_mb: int) -> Iterator[bytes]:
    """Yield the payload ``chunk_mb`` MiB at a time; only one chunk is alive at once."""
    for start in range(0, size_mb, chunk_mb):
        stop = min(start + chunk_mb, size_mb)
        yield b"".join(segment(index) for index in range(start, stop))


def checksum_buffered(size_mb: int, hold_s_per_mb: float = 0.0) -> str:
    """sha256 of the payload after materialising all of it in memory, held for the
    processing time of ``size_mb`` MiB."""
    payload = materialise(size_mb)
    time.sleep(size_mb * hold_s_per_mb)
    return hashlib.sha256(payload).hexdigest()


def checksum_streamed(size_mb: int, chunk_mb: int, hold_s_per_mb: float = 0.0) -> str:
    """sha256 of the payload generated and hashed chunk by chunk, each chunk held for its
    own processing time (the same total time as buffering, one chunk's memory)."""
    digest = hashlib.sha256()
    for chunk in chunks(size_mb, chunk_mb):
        time.sleep(len(chunk) / MB * hold_s_per_mb)
        digest.update(chunk)
    return digest.hexdigest()
