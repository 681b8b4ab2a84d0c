"""Console logs: what the container printed (the analogue of ContainerAppConsoleLogs_CL).

The kill evidence here is application-level: a master process that survives its worker's
death and says so. Each app server says it in its own words (the default kill patterns,
:data:`KILL_PATTERNS`, all from lines recorded here, see tests/data/recorded):

* gunicorn 21 and later: ``Worker (pid:N) was sent SIGKILL! Perhaps out of memory?``;
  gunicorn 20.x: ``Worker with pid N was terminated due to signal 9``;
* uWSGI: ``DAMN ! worker 1 (pid: N) died, killed by signal 9 :( trying respawn ...``;
* uvicorn (``--workers N``, 0.30 and later): ``Child process [N] died``, with no signal;
* the lab supervisor: ``worker process exited with code 137``.

None of them knows why its worker died: gunicorn's "Perhaps out of memory?" and uWSGI's
"killed by signal 9" are printed as well when the server killed the worker itself for
exceeding its own timeout (gunicorn's WORKER TIMEOUT, uWSGI's HARAKIRI), which the matrix
judges against the cgroup's counter. A scenario adds patterns for its own image
(``target.kill_log_patterns``, see :func:`user_patterns`); a plain PID-1 process that is
killed prints nothing, which is itself a finding. The lab app's progress lines give the
allocated MB and RSS at the moment of the kill.

Lines no pattern knows are kept too (kind ``line``) by :func:`parse_logs`, so that a
scenario's own patterns can be applied after the run (:func:`apply_patterns`) and a report
can show the lines nearest to a kill that no line reported; the runner keeps only those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.evidence import Observation

SOURCE = "console_logs"
OTHER = "line"  # the kind of a line no pattern knows
USER_KILL = "user_kill_line"  # the kind of a line a scenario's own pattern matched
MAX_LINE = 300  # characters of a line kept in an observation


@dataclass(frozen=True)
class LinePattern:
    """One kind of console line.

    Attributes:
        kind: the observation kind a matching line becomes (``sigkill_line`` ...).
        regex: searched in the line; named groups become the observation's fields
            (``pid``, ``code``, ``signal`` ...).
        kill: True when the line is kill evidence (a master saying its worker was killed).
        name: whose line it is (``gunicorn 21+``, ``uWSGI``, or a scenario's own regex),
            shown with every kill line in reports.
    """

    kind: str
    regex: re.Pattern[str]
    kill: bool = False
    name: str = ""


def _pattern(kind: str, regex: str, kill: bool = False, name: str = "") -> LinePattern:
    return LinePattern(kind, re.compile(regex), kill, name)


#: The kill lines every scenario knows, one per app server (the first that matches wins).
KILL_PATTERNS: tuple[LinePattern, ...] = (
    _pattern("sigkill_line", r"Worker \(pid:(?P<pid>\d+)\) was sent SIGKILL!", True, "gunicorn 21+"),
    _pattern("sigkill_line", r"Worker with pid (?P<pid>\d+) was terminated due to signal (?P<signal>9)\b", True,
             "gunicorn 20.x"),
    _pattern("uwsgi_kill",
             r"DAMN ! worker (?P<worker>\d+) \(pid: (?P<pid>\d+)\) died, killed by signal (?P<signal>9)\b",
             True, "uWSGI"),
    _pattern("uvicorn_died", r"Child process \[(?P<pid>\d+)\] died", True, "uvicorn"),
    _pattern("supervisor_exit", r"\[SUPERVISOR\] worker process exited with code (?P<code>137)\b", True,
             "lab supervisor"),
)

#: Lines that are not kill evidence but give its context: other exits, new workers, the
#: servers' own timeouts, the lab app's progress and requests.
CONTEXT_PATTERNS: tuple[LinePattern, ...] = (
    _pattern("worker_exit",
             r"Worker \(pid:(?P<pid>\d+)\) (?:was sent (?P<signal>SIG\w+)|exited with code (?P<code>\d+))"),
    _pattern("worker_exit", r"Worker with pid (?P<pid>\d+) was terminated due to signal (?P<signal>\d+)"),
    _pattern("worker_exit",
             r"DAMN ! worker (?P<worker>\d+) \(pid: (?P<pid>\d+)\) died(?:, killed by signal (?P<signal>\d+))?"),
    _pattern("worker_timeout", r"WORKER TIMEOUT \(pid:(?P<pid>\d+)\)"),
    _pattern("worker_timeout", r"HARAKIRI ON WORKER (?P<worker>\d+) \(pid: (?P<pid>\d+)"),
    _pattern("worker_boot", r"Booting worker with pid: (?P<pid>\d+)"),
    _pattern("worker_boot", r"Respawned uWSGI worker (?P<worker>\d+) \(new pid: (?P<pid>\d+)\)"),
    _pattern("worker_boot", r"spawned uWSGI worker (?P<worker>\d+) \(pid: (?P<pid>\d+)"),
    _pattern("worker_boot", r"Started server process \[(?P<pid>\d+)\]"),
    _pattern("supervisor_exit_other", r"\[SUPERVISOR\] worker process exited with code (?P<code>-?\d+)"),
    _pattern("supervisor_start", r"\[SUPERVISOR\] worker process started pid=(?P<pid>\d+)"),
    _pattern("progress", r"\[(?:OOM-TEST|PID1)\] allocated_mb=(?P<allocated_mb>[\d.]+) "
                         r"rss_mb=(?P<rss_mb>[\d.]+|None) pid=(?P<pid>\d+)"),
    _pattern("spike", r"\[OOM-TEST\] spike mb=(?P<mb>\d+) pid=(?P<pid>\d+)"),
    _pattern("memory_error", r"MemoryError"),
    _pattern("request_start",
             r"\[REQ\] start id=(?P<id>\S+) method=(?P<method>\S+) path=(?P<path>\S+) pid=(?P<pid>\d+)"),
    _pattern("request_end", r"\[REQ\] end id=(?P<id>\S+) status=(?P<status>\d+) .*pid=(?P<pid>\d+)"),
)

PATTERNS: tuple[LinePattern, ...] = KILL_PATTERNS + CONTEXT_PATTERNS

_NUMERIC = {"pid", "code", "mb", "status", "worker"}


def user_patterns(regexes: Iterable[str]) -> tuple[LinePattern, ...]:
    """Kill patterns from a scenario's ``target.kill_log_patterns`` (already validated):
    a matching line is kill evidence, and its ``pid`` group, if any, the killed PID."""
    return tuple(_pattern(USER_KILL, regex, True, regex) for regex in regexes)


# Where a second tagged record starts inside one line: two threads that printed at once
# (older lab images, other apps) leave ``[REQ] start ... pid=13[REQ] start ... pid=13``.
_RECORD_START = re.compile(r"(?<=\S)(?=\[(?:REQ|OOM-TEST|PID1|SUPERVISOR)\] )")


def parse_text(text: str, t: float, extra: Sequence[LinePattern] = (), keep_other: bool = False) -> list[Observation]:
    """Every observation in one console line (usually none or one; more when records
    written at the same instant were joined on one line). ``extra`` patterns (a
    scenario's own) are tried first; with ``keep_other`` a line no pattern knows becomes
    an observation of kind ``line``."""
    found = []
    for record in _RECORD_START.split(text):
        obs = parse_line(record, t, extra)
        if obs is None and keep_other and record.strip():
            obs = Observation(SOURCE, t, OTHER, False, {"line": record.strip()[:MAX_LINE]})
        if obs is not None:
            found.append(obs)
    return found


def parse_line(text: str, t: float, extra: Sequence[LinePattern] = ()) -> Observation | None:
    """Classify one console record; None for lines no pattern knows."""
    for pattern in (*extra, *PATTERNS):
        match = pattern.regex.search(text)
        if match:
            detail = {**_fields(match), "line": text.strip()[:MAX_LINE]}
            if pattern.kill:
                detail["pattern"] = pattern.name
            return Observation(SOURCE, t, pattern.kind, pattern.kill, detail)
    return None


def _fields(match: re.Match[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in match.groupdict().items():
        if value is None:
            continue
        if key in _NUMERIC:
            fields[key] = int(value) if value.lstrip("-").isdigit() else value
        elif key in ("allocated_mb", "rss_mb"):
            fields[key] = None if value == "None" else float(value)
        else:
            fields[key] = value
    return fields


_PREFIX = re.compile(r"^\[\d{4}-\d\d-\d\d [^\]]*\] \[\d+\] \[[A-Z]+\] |^(?:INFO|WARNING|ERROR|CRITICAL):\s+")


def message(line: str) -> str:
    """A console line without its logger's prefix (gunicorn's ``[time] [pid] [LEVEL]``,
    uvicorn's ``INFO:``): what the line says, for reports."""
    return _PREFIX.sub("", line.strip())


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


def parse_logs(raw: str, fallback_t: float = 0.0, extra: Sequence[LinePattern] = ()) -> list[Observation]:
    """All observations in a timestamped log dump, in order, the lines no pattern knows
    included (kind ``line``)."""
    found = []
    for line in raw.splitlines():
        t, text = split_timestamp(line)
        found += parse_text(text, t if t is not None else fallback_t, extra, keep_other=True)
    return found


def apply_patterns(observations: Iterable[Observation], extra: Sequence[LinePattern]) -> list[Observation]:
    """The observations with every console line classified again, ``extra`` patterns
    first: how a scenario's own kill patterns reach lines a backend parsed without them."""
    if not extra:
        return list(observations)
    again = []
    for obs in observations:
        line = obs.detail.get("line") if obs.source == SOURCE else None
        if isinstance(line, str):
            obs = parse_line(line, obs.t, extra) or obs
        again.append(obs)
    return again


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
