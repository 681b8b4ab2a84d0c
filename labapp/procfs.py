"""Host-wide memory signals from /proc: meminfo, reclaim counters, PSI and load.

These are what the memory-pressure lab compares between baseline and loaded snapshots.
Inside a container /proc shows the node's numbers, not the container's; the cgroup's own
view comes from :mod:`harness.cgroupfs`. Missing files are reported with a reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.cgroupfs import parse_pressure

DEFAULT_PROC = Path("/proc")

#: vmstat counters that show reclaim, swap and OOM activity.
VMSTAT_PREFIXES = ("pgscan_", "pgsteal_", "allocstall", "workingset_")
VMSTAT_NAMES = frozenset({"pswpin", "pswpout", "pgmajfault", "pgfault", "oom_kill"})


def _unavailable(path: Path, exc: OSError) -> dict[str, Any]:
    """Explain why a /proc file could not be read."""
    if isinstance(exc, FileNotFoundError):
        return {"unavailable": f"{path} not present"}
    return {"unavailable": f"{path} unreadable: {exc.strerror or exc}"}


def parse_meminfo(text: str) -> dict[str, int]:
    """Parse /proc/meminfo into ``{"MemTotal": kB, ...}`` (HugePages_* are page counts)."""
    result: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or not fields:
            continue
        try:
            result[name.strip()] = int(fields[0])
        except ValueError:
            continue
    return result


def parse_vmstat(text: str) -> dict[str, int]:
    """Keep only the reclaim, swap, fault and OOM counters of /proc/vmstat."""
    result: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        name, raw = parts
        if name in VMSTAT_NAMES or name.startswith(VMSTAT_PREFIXES):
            try:
                result[name] = int(raw)
            except ValueError:
                continue
    return result


def parse_loadavg(text: str) -> dict[str, Any]:
    """Parse ``0.10 0.20 0.35 3/751 1941`` into named fields."""
    fields = text.split()
    runnable, _, tasks = fields[3].partition("/")
    return {
        "load1": float(fields[0]),
        "load5": float(fields[1]),
        "load15": float(fields[2]),
        "runnable": int(runnable),
        "tasks": int(tasks),
        "last_pid": int(fields[4]),
    }


def meminfo(proc: Path = DEFAULT_PROC) -> dict[str, Any]:
    """System memory counters in kB, or ``{"unavailable": reason}``."""
    path = proc / "meminfo"
    try:
        return dict(parse_meminfo(path.read_text()))
    except OSError as exc:
        return _unavailable(path, exc)


def vmstat(proc: Path = DEFAULT_PROC) -> dict[str, Any]:
    """Reclaim and swap counters, or ``{"unavailable": reason}``."""
    path = proc / "vmstat"
    try:
        return dict(parse_vmstat(path.read_text()))
    except OSError as exc:
        return _unavailable(path, exc)


def pressure(resource: str, proc: Path = DEFAULT_PROC) -> dict[str, Any]:
    """System PSI for ``memory`` or ``cpu``, or ``{"unavailable": reason}``."""
    path = proc / "pressure" / resource
    try:
        return dict(parse_pressure(path.read_text()))
    except FileNotFoundError:
        return {"unavailable": f"{path} not present (kernel without PSI, or booted with psi=0)"}
    except OSError as exc:
        # PSI files exist but fail with EOPNOTSUPP when PSI is compiled in yet disabled.
        return _unavailable(path, exc)


def loadavg(proc: Path = DEFAULT_PROC) -> dict[str, Any]:
    """Load averages and task counts, or ``{"unavailable": reason}``."""
    path = proc / "loadavg"
    try:
        text = path.read_text()
    except OSError as exc:
        return _unavailable(path, exc)
    try:
        return parse_loadavg(text)
    except (IndexError, ValueError):
        return {"unavailable": f"{path} malformed: {text.strip()[:60]!r}"}
