"""Lab app settings, read from the environment once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """Read a positive integer variable; a bad value stops start-up with a clear message."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    """Read a positive number variable; a bad value stops start-up with a clear message."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {raw}")
    return value


@dataclass(frozen=True)
class LabConfig:
    """Limits and knobs of the lab app.

    ``max_mb`` caps every size a request may ask for, so a typo cannot ask for terabytes;
    ``blob_wait_s`` bounds how long a blob request queues for a concurrency slot;
    ``blob_hold_ms_per_mb`` is the processing time a blob takes per MiB, as real processing
    (parsing, transforming, uploading) would: the buffered payload is held that long, so
    concurrent requests overlap by construction and not by the machine's scheduling.
    """

    max_mb: int = 4096
    blob_concurrency: int = 4
    leak_block_kb: int = 1024
    cgroup_root: Path = Path("/sys/fs/cgroup")
    blob_wait_s: float = 30.0
    blob_hold_ms_per_mb: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LabConfig:
        """Build the config from ``LABAPP_*`` variables, defaulting what is unset."""
        source = os.environ if env is None else env
        defaults = cls()
        root = source.get("LABAPP_CGROUP_ROOT", "").strip()
        return cls(
            max_mb=_positive_int(source, "LABAPP_MAX_MB", defaults.max_mb),
            blob_concurrency=_positive_int(source, "LABAPP_BLOB_CONCURRENCY", defaults.blob_concurrency),
            leak_block_kb=_positive_int(source, "LABAPP_LEAK_BLOCK_KB", defaults.leak_block_kb),
            cgroup_root=Path(root) if root else defaults.cgroup_root,
            blob_wait_s=_positive_float(source, "LABAPP_BLOB_WAIT_S", defaults.blob_wait_s),
            blob_hold_ms_per_mb=_positive_float(source, "LABAPP_BLOB_HOLD_MS_PER_MB", defaults.blob_hold_ms_per_mb),
        )
