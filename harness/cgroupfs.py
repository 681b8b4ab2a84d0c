"""Read a memory cgroup (v1 or v2) without any third-party dependency.

Used in two places: inside the lab container, where ``/sys/fs/cgroup`` is the container's
own cgroup (:func:`detect`), and on the host by the harness, which finds a container's
cgroup through one of its processes (:func:`for_pid`). Every value that cannot be read
comes back as a :class:`Reading` carrying the reason, never as a sentinel such as 0 or -1,
so an "unavailable" signal can never be mistaken for a real measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: cgroup v1 reports "no limit" as a huge page-aligned number (e.g. 9223372036854771712).
V1_NO_LIMIT_THRESHOLD = 2**62

#: The inactive page-cache key subtracted from usage to get the working set, per version.
#: v1's ``total_`` keys include descendants, which matches ``memory.usage_in_bytes``.
INACTIVE_FILE_KEY = {1: "total_inactive_file", 2: "inactive_file"}

DEFAULT_ROOT = Path("/sys/fs/cgroup")
DEFAULT_PROC = Path("/proc")


@dataclass(frozen=True)
class Reading:
    """One measured value, or ``None`` together with the reason it is not available."""

    value: int | None
    reason: str | None = None

    @property
    def available(self) -> bool:
        """True when the reading holds a real value."""
        return self.value is not None

    def to_json(self) -> dict[str, Any]:
        """Render as ``{"value": v}`` or ``{"value": None, "unavailable": reason}``."""
        if self.value is None:
            return {"value": None, "unavailable": self.reason or "unavailable"}
        return {"value": self.value}


def parse_flat_keyed(text: str) -> dict[str, int]:
    """Parse ``key value`` lines (memory.stat, memory.events, memory.oom_control).

    Lines that do not have exactly a key and an integer are skipped, so one odd line from
    a newer kernel does not hide every other counter.
    """
    result: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            result[parts[0]] = int(parts[1])
        except ValueError:
            continue
    return result


def parse_pressure(text: str) -> dict[str, dict[str, float]]:
    """Parse a PSI file into ``{"some": {...}, "full": {...}}``.

    Each line looks like ``some avg10=0.00 avg60=0.00 avg300=0.00 total=0``. The averages
    are percentages (floats); ``total`` is cumulative stall time in microseconds and is
    kept as an int so it stays exact. Lines absent from the file (older kernels have no
    ``full`` line for cpu) are simply absent from the result.
    """
    result: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        kind, _, rest = line.strip().partition(" ")
        if kind not in ("some", "full"):
            continue
        fields: dict[str, float] = {}
        for item in rest.split():
            name, sep, raw = item.partition("=")
            if not sep:
                continue
            try:
                fields[name] = int(raw) if name == "total" else float(raw)
            except ValueError:
                continue
        result[kind] = fields
    return result


@dataclass(frozen=True)
class _Text:
    """The content of one cgroup file, or why it could not be read."""

    content: str | None
    reason: str | None = None


def _read_text(path: Path, missing_reason: str | None = None) -> _Text:
    """Read a small cgroup file; translate every failure into a reason string."""
    try:
        return _Text(path.read_text())
    except FileNotFoundError:
        return _Text(None, missing_reason or f"{path.name} not present")
    except OSError as exc:
        return _Text(None, f"{path.name} unreadable: {exc.strerror or exc}")


def _parse_int(text: _Text, name: str) -> Reading:
    """Turn a single-number file into a Reading."""
    if text.content is None:
        return Reading(None, text.reason)
    raw = text.content.strip()
    try:
        return Reading(int(raw))
    except ValueError:
        return Reading(None, f"{name} malformed: {raw[:40]!r}")


@dataclass(frozen=True)
class CgroupMemory:
    """One memory cgroup directory, either cgroup v1 (``memory`` controller) or v2."""

    version: int
    path: Path

    def _file(self, name: str, missing_reason: str | None = None) -> _Text:
        """Read one file of this cgroup directory."""
        return _read_text(self.path / name, missing_reason)

    def _int_file(self, name: str, missing_reason: str | None = None) -> Reading:
        """Read a file holding one integer."""
        return _parse_int(self._file(name, missing_reason), name)

    def _keyed_value(self, name: str, key: str, missing_key_reason: str) -> Reading:
        """Read one counter out of a flat-keyed file such as memory.events."""
        text = self._file(name)
        if text.content is None:
            return Reading(None, text.reason)
        counters = parse_flat_keyed(text.content)
        if key not in counters:
            return Reading(None, missing_key_reason)
        return Reading(counters[key])

    def usage(self) -> Reading:
        """Bytes currently charged to the cgroup (page cache included)."""
        return self._int_file("memory.current" if self.version == 2 else "memory.usage_in_bytes")

    def limit(self) -> Reading:
        """The hard memory limit in bytes; unavailable with reason "no limit" when unlimited."""
        if self.version == 2:
            text = self._file("memory.max")
            if text.content is not None and text.content.strip() == "max":
                return Reading(None, "no limit")
            return _parse_int(text, "memory.max")
        reading = self._int_file("memory.limit_in_bytes")
        if reading.value is not None and reading.value >= V1_NO_LIMIT_THRESHOLD:
            return Reading(None, "no limit")
        return reading

    def peak(self) -> Reading:
        """The highest usage the kernel recorded for this cgroup."""
        if self.version == 2:
            return self._int_file("memory.peak", "memory.peak not present (kernel < 5.19)")
        return self._int_file("memory.max_usage_in_bytes")

    def oom_kills(self) -> Reading:
        """How many processes in this cgroup the OOM killer has killed."""
        if self.version == 2:
            return self._keyed_value("memory.events", "oom_kill", "oom_kill not in memory.events (kernel < 4.13)")
        return self._keyed_value("memory.oom_control", "oom_kill", "oom_kill not in memory.oom_control (kernel < 4.13)")

    def oom_events(self) -> Reading:
        """How many times the cgroup hit OOM (v2 only; v1 has no such counter)."""
        if self.version == 2:
            return self._keyed_value("memory.events", "oom", "oom not in memory.events")
        # memory.failcnt counts every time usage touched the limit (reclaim usually
        # succeeds), so reporting it as an OOM count would overstate OOMs badly.
        return Reading(None, "cgroup v1 has no OOM event counter (memory.failcnt counts limit hits)")

    def _stat_text(self) -> _Text:
        """memory.stat (same name in v1 and v2)."""
        return self._file("memory.stat")

    def stat(self) -> dict[str, int] | None:
        """All memory.stat counters, or None when the file cannot be read."""
        text = self._stat_text()
        return None if text.content is None else parse_flat_keyed(text.content)

    def working_set(self) -> Reading:
        """Usage minus inactive page cache, floored at 0 (what kubelet and cAdvisor report)."""
        usage = self.usage()
        if usage.value is None:
            return Reading(None, usage.reason)
        text = self._stat_text()
        if text.content is None:
            return Reading(None, text.reason)
        key = INACTIVE_FILE_KEY[self.version]
        counters = parse_flat_keyed(text.content)
        if key not in counters:
            return Reading(None, f"{key} not in memory.stat")
        return Reading(max(0, usage.value - counters[key]))

    def _pressure_text(self) -> _Text:
        """memory.pressure, or why there is none (v1, PSI disabled, old kernel)."""
        if self.version != 2:
            return _Text(None, "cgroup v1 has no memory.pressure")
        return self._file("memory.pressure", "memory.pressure not present (PSI disabled or kernel < 4.20)")

    def pressure(self) -> dict[str, dict[str, float]] | None:
        """The cgroup's memory PSI (v2 only), or None when there is none."""
        text = self._pressure_text()
        return None if text.content is None else parse_pressure(text.content)

    def snapshot(self) -> dict[str, Any]:
        """Every reading as one JSON-ready dict.

        Byte quantities are ``{"value": n}`` or ``{"value": None, "unavailable": reason}``;
        ``stat`` and ``pressure`` are the parsed dicts or ``{"unavailable": reason}``.
        """
        stat_text = self._stat_text()
        pressure_text = self._pressure_text()
        return {
            "version": self.version,
            "path": str(self.path),
            "usage_bytes": self.usage().to_json(),
            "limit_bytes": self.limit().to_json(),
            "peak_bytes": self.peak().to_json(),
            "working_set_bytes": self.working_set().to_json(),
            "oom_kills": self.oom_kills().to_json(),
            "oom_events": self.oom_events().to_json(),
            "stat": _parsed_or_reason(stat_text, parse_flat_keyed),
            "pressure": _parsed_or_reason(pressure_text, parse_pressure),
        }


def _parsed_or_reason(text: _Text, parse: Callable[[str], Mapping[str, Any]]) -> dict[str, Any]:
    """Parse a file's content, or give ``{"unavailable": reason}``."""
    if text.content is None:
        return {"unavailable": text.reason}
    return dict(parse(text.content))


def detect(root: Path = DEFAULT_ROOT) -> CgroupMemory | None:
    """Find the memory cgroup of the current process from inside a container.

    With a private cgroup namespace the container's own cgroup is mounted at ``root``.
    v2 is recognised by ``memory.current`` at the root; v1 by the ``memory`` controller
    directory. A bare v2 root (``cgroup.controllers`` but no memory files, e.g. the host's
    root cgroup) still counts as v2 so the readings explain what is missing.
    """
    if (root / "memory.current").is_file():
        return CgroupMemory(2, root)
    if (root / "memory" / "memory.usage_in_bytes").is_file():
        return CgroupMemory(1, root / "memory")
    if (root / "cgroup.controllers").is_file():
        return CgroupMemory(2, root)
    return None


def _candidates(cgroup_text: str, root: Path) -> list[CgroupMemory]:
    """Memory cgroup directories named by a /proc/PID/cgroup file, v1 first."""
    v1: list[CgroupMemory] = []
    v2: list[CgroupMemory] = []
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, cgroup_path = parts
        relative = cgroup_path.strip().lstrip("/")
        if "memory" in controllers.split(","):
            v1.append(CgroupMemory(1, root / "memory" / relative))
        elif hierarchy == "0" and controllers == "":
            v2.append(CgroupMemory(2, root / relative))
    return v1 + v2


def for_pid(pid: int, proc: Path = DEFAULT_PROC, root: Path = DEFAULT_ROOT) -> CgroupMemory | None:
    """Find a process's memory cgroup from the host through ``/proc/PID/cgroup``.

    A v1 ``memory`` line (``12:memory:/docker/<id>``) wins over the v2 line
    (``0::/system.slice/docker-<id>.scope``) because on hybrid hosts the v2 hierarchy does
    not carry the memory controller. Returns None when the process is gone or no named
    directory exists.
    """
    text = _read_text(proc / str(pid) / "cgroup")
    if text.content is None:
        return None
    for candidate in _candidates(text.content, root):
        if candidate.path.is_dir():
            return candidate
    return None
