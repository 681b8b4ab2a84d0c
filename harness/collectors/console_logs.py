"""Console logs: what the container printed (the analogue of ContainerAppConsoleLogs_CL).

The kill evidence here is application-level: gunicorn's master logs
``Worker (pid:N) was sent SIGKILL! Perhaps out of memory?`` and the lab supervisor logs
``worker process exited with code 137``. A plain PID-1 process that is killed prints
nothing, which is itself a finding. The lab app's progress lines give the allocated MB
and RSS at the moment of the kill.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from harness.evidence import Observation

SOURCE = "console_logs"

# (kind, is kill evidence, pattern). The first pattern that matches a line wins.
_PATTERNS: tuple[tuple[str, bool, re.Pattern[str]], ...] = (
    ("sigkill_line", True, re.compile(r"Worker \(pid:(?P<pid>\d+)\) was sent SIGKILL!")),
    ("worker_exit", False, re.compile(r"Worker \(pid:(?P<pid>\d+)\) (?:was sent (?P<signal>SIG\w+)|exited with code (?P<code>\d+))")),
    ("worker_boot", False, re.compile(r"Booting worker with pid: (?P<pid>\d+)")),
    ("supervisor_exit", True, re.compile(r"\[SUPERVISOR\] worker process exited with code (?P<code>137)\b")),
    ("supervisor_exit_other", False, re.compile(r"\[SUPERVISOR\] worker process exited with code (?P<code>-?\d+)")),
    ("supervisor_start", False, re.compile(r"\[SUPERVISOR\] worker process started pid=(?P<pid>\d+)")),
    ("progress", False, re.compile(r"\[(?:OOM-TEST|PID1)\] allocated_mb=(?P<allocated_mb>[\d.]+) rss_mb=(?P<rss_mb>[\d.]+|None) pid=(?P<pid>\d+)")),
    ("spike", False, re.compile(r"\[OOM-TEST\] spike mb=(?P<mb>\d+) pid=(?P<pid>\d+)")),
    ("memory_error", False, re.compile(r"MemoryError")),
    ("request_start", False, re.compile(r"\[REQ\] start id=(?P<id>\S+) method=(?P<method>\S+) path=(?P<path>\S+) pid=(?P<pid>\d+)")),
    ("request_end", False, re.compile(r"\[REQ\] end id=(?P<id>\S+) status=(?P<status>\d+) .*pid=(?P<pid>\d+)")),
)

_NUMERIC = {"pid", "code", "mb", "status"}


# Where a second tagged record starts inside one line: two threads that printed at once
# (older lab images, other apps) leave ``[REQ] start ... pid=13[REQ] start ... pid=13``.
_RECORD_START = re.compile(r"(?<=\S)(?=\[(?:REQ|OOM-TEST|PID1|SUPERVISOR)\] )")


def parse_text(text: str, t: float) -> list[Observation]:
    """Every observation in one console line (usually none or one; more when records
    written at the same instant were joined on one line)."""
    found = []
    for record in _RECORD_START.split(text):
        obs = parse_line(record, t)
        if obs is not None:
            found.append(obs)
    return found


def parse_line(text: str, t: float) -> Observation | None:
    """Classify one console record; None for lines no pattern knows."""
    for kind, kill, pattern in _PATTERNS:
        match = pattern.search(text)
        if match:
            return Observation(SOURCE, t, kind, kill, {**_fields(match), "line": text.strip()[:300]})
    return None


def _fields(match: re.Match[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in match.groupdict().items():
        if value is None:
            continue
        if key in _NUMERIC:
            fields[key] = int(value)
        elif key in ("allocated_mb", "rss_mb"):
            fields[key] = None if value == "None" else float(value)
        else:
            fields[key] = value
    return fields


def split_timestamp(raw: str) -> tuple[float | None, str]:
    """Split a ``docker logs --timestamps`` line into (Unix time, text)."""
    stamp, sep, text = raw.partition(" ")
    if not sep or not stamp.endswith("Z"):
        return None, raw
    whole, _, frac = stamp[:-1].partition(".")
    try:
        base = datetime.fromisoformat(whole + "+00:00").timestamp()
    except ValueError:
        return None, raw
    return base + (float("0." + frac) if frac else 0.0), text


def parse_logs(raw: str, fallback_t: float = 0.0) -> list[Observation]:
    """All observations in a timestamped log dump, in order."""
    found = []
    for line in raw.splitlines():
        t, text = split_timestamp(line)
        found += parse_text(text, t if t is not None else fallback_t)
    return found


class LiveConsole:
    """Follows a log stream in the caller's thread and keeps what the progress line shows."""

    def __init__(self, on_observation: Callable[[Observation], None] | None = None) -> None:
        self.allocated_mb: float | None = None
        self.kill_lines = 0
        self._on_observation = on_observation

    def feed(self, raw_line: str) -> None:
        t, text = split_timestamp(raw_line)
        for obs in parse_text(text, t or 0.0):
            if obs.kind == "progress":
                self.allocated_mb = obs.detail.get("allocated_mb")
            elif obs.kill:
                self.kill_lines += 1
            if self._on_observation:
                self._on_observation(obs)
