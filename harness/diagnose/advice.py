"""What to do next, for each conclusion: the reference labs' lessons, filled in with this
result's own figures (which sources saw the kills, how much memory was needed).
"""

from __future__ import annotations

import math
from typing import Any

from harness.diagnose.memory import MINUTE, mb
from harness.diagnose.runs import RunFacts
from harness.diagnose.verdicts import Conclusion
from harness.matrix import MatrixRow
from harness.scenario.units import format_size
from harness.units import MIB

HEADROOM = 1.25  # what a limit should allow above the measured need
SIZE_STEP = 512 * MIB  # limits are offered in half-GiB steps, as the platforms sell them


def advice(
    conclusion: Conclusion, runs: list[RunFacts], matrix: list[MatrixRow], settings: dict[str, Any]
) -> tuple[str, ...]:
    """The advice lines for ``conclusion``: where to look first, then what to change."""
    lines: list[str] = []
    if any(r.killed for r in runs):
        lines.append(_console_first(matrix))
        lines.append(_process_model(runs))
    lines += _for(conclusion, runs, settings)
    return tuple(line for line in lines if line)


def _for(conclusion: Conclusion, runs: list[RunFacts], settings: dict[str, Any]) -> list[str]:
    """What to change for this conclusion in particular."""
    match conclusion:
        case Conclusion.LEAK:
            return _leak(settings)
        case Conclusion.PEAK:
            return _peak(runs)
        case Conclusion.OTHER:
            return _other(runs, settings)


def _console_first(matrix: list[MatrixRow]) -> str:
    rows = {row.source: row for row in matrix}
    console = rows.get("console_logs")
    if console is None or console.kills_seen is None:
        return ("Look at the console logs first for SIGKILL, 'killed' or 'out of memory' lines; "
                "this result has no console log column to check them against.")
    seen = f"{console.kills_seen} of {console.ground_truth_kills}"
    others = [f"{name.replace('_', ' ')} {rows[name].kills_seen} of {rows[name].ground_truth_kills}"
              for name in ("lifecycle_events", "restart_count") if name in rows and rows[name].kills_seen is not None]
    tail = f", against {' and '.join(others)}" if others else ""
    false = (f" But {console.false_claims} of their kill lines claimed a kill that did not happen: check each "
             "against the memory metrics before believing it." if console.false_claims else "")
    if console.kills_seen == 0:
        return (f"The console logs saw none of the kills ({seen}){tail}: the killed process logged nothing, "
                "so have the app log its RSS periodically to leave a trace before the kill." + false)
    return (f"Look at the console logs first: here they saw {seen} kills{tail}. "
            "Search them for SIGKILL, 'killed' and 'out of memory'; system logs stay empty when only a worker dies."
            + false)


def _process_model(runs: list[RunFacts]) -> str:
    replaced = any(r.figures.replacement_pids for r in runs if r.killed)
    exited = any(r.exits() for r in runs if r.killed)
    if replaced and not exited:
        return ("Ask which process model serves the app: under gunicorn, uWSGI, supervisord or any master that "
                "respawns its workers, a killed worker is replaced inside the container, which never exits, so "
                "platform telemetry (system logs, restart count) shows nothing. New PIDs in 'Booting worker with "
                "pid: N' lines are the trace.")
    if exited:
        return ("The container itself exited here (PID 1 was killed), so the platform sees an exit and a restart; "
                "with a supervising master (gunicorn, uWSGI, supervisord) in the image the same kill would stay "
                "hidden inside the container. Ask which process model the app runs under.")
    return ("Ask which process model serves the app: gunicorn, uWSGI, supervisord and similar masters replace a "
            "killed worker silently, hiding the kill from platform telemetry.")


def _leak(settings: dict[str, Any]) -> list[str]:
    process = (settings.get("target") or {}).get("process") or {}
    recycling = ""
    if process.get("kind") == "gunicorn" and not process.get("max_requests"):
        recycling = " This scenario ran gunicorn without --max-requests."
    return [
        ("Find what keeps the memory: profile the code path that runs while memory climbs (tracemalloc, heap "
         "snapshots) in a reproduction like this one; caches, queues and objects kept per request are the usual "
         "suspects."),
        ("Until it is fixed, recycle workers before they reach the limit: gunicorn's --max-requests N replaces a "
         "worker after N requests, and --max-requests-jitter spreads those restarts so the workers do not all "
         "restart at once. It only helps when the growth comes with requests, not from a background job."
         + recycling),
        "Raise the memory limit only to buy time: a leak reaches any limit, more memory only delays the kill.",
        ("Have the app log its RSS periodically and alert on a rising working set together with kill lines, so "
         "the trend is visible before the kill."),
    ]


def _peak(runs: list[RunFacts]) -> list[str]:
    lines = [_headroom(runs)]
    lines.append("Or lower what one replica needs at once: stream large payloads instead of reading them whole, "
                 "cap request sizes, limit concurrent heavy requests per worker and scale out instead.")
    errors = [req for r in runs for req in r.evidence.requests if req.error]
    if errors:
        kinds = sorted({str(req.error) for req in errors})
        lines.append(f"The client saw these kills ({len(errors)} failed request(s): {', '.join(kinds)}): a retry of "
                     "the same request will be killed the same way until it fits.")
    return lines


def _headroom(runs: list[RunFacts]) -> str:
    """How much memory the peak needed, and the next limit that holds it with headroom."""
    needs = [need for r in runs if r.killed and (need := _need(r))]
    limits = [r.limit for r in runs if r.limit]
    if not needs or not limits:
        return "Give the container headroom above its peak: the limit must hold baseline plus the largest peak."
    need, limit = max(needs), max(limits)
    suggested = max(SIZE_STEP * math.ceil(need * HEADROOM / SIZE_STEP), limit + SIZE_STEP)
    return (f"Give the container headroom: the peak needed about {mb(need)} against the {format_size(limit)} "
            f"limit; a limit of {format_size(suggested)} would hold it with room to spare.")


def _need(run: RunFacts) -> int | None:
    """Baseline plus what the app asked for when it was killed; else the peak seen (not
    from 1-minute averages, which hide it)."""
    climb = run.climb
    if climb is None or run.series is None or run.series.resolution == MINUTE:
        return None
    asked = run.figures.kill_threshold_mb
    return climb.base_bytes + int(asked * MIB) if asked is not None else climb.peak_bytes


def _other(runs: list[RunFacts], settings: dict[str, Any] | None = None) -> list[str]:
    codes = sorted({code for r in runs for code in r.other_exit_codes()})
    lines = _false_kills(runs, settings or {})
    lines.append("No memory kill leads here: look for start-up failures, application exceptions, failing health "
                 "probes and the exit codes before changing memory limits.")
    if codes:
        lines.append(f"The container exited with code(s) {', '.join(map(str, codes))}: read the console logs "
                     "around those exits.")
    near = [r for r in runs if r.climb and r.limit and r.climb.peak_bytes >= 0.85 * r.limit]
    if near:
        lines.append("Memory still came close to the limit without a kill: keep headroom, the next peak may not fit.")
    return lines


def _false_kills(runs: list[RunFacts], settings: dict[str, Any]) -> list[str]:
    """Why the console's kill lines were no OOM kill: the server's own timeout, or someone
    else's SIGKILL; and what to change instead of the memory limit."""
    false = [f for r in runs for f in r.false_kills]
    if not false:
        return []
    timed_out = [f for f in false if f.timeout is not None]
    lines = []
    if timed_out:
        requests = sorted({f"{f.request.detail.get('method')} {f.request.detail.get('path')}"
                           for f in timed_out if f.request is not None})
        which = f" (here {', '.join(requests)})" if requests else ""
        lines.append(
            f"The {len(timed_out)} kill line(s) after the server's own timeout line are the server killing a worker "
            f"that held one request past {_timeout(settings)}, not the kernel: gunicorn prints 'Perhaps out of "
            "memory?' after every SIGKILL its arbiter sends, uWSGI 'killed by signal 9' after HARAKIRI. Find the "
            f"slow request{which} and make it shorter or move the work off the request, or raise the timeout; "
            "a higher memory limit changes nothing.")
    others = len(false) - len(timed_out)
    if others:
        lines.append(f"{others} kill line(s) came with no OOM kill and no timeout line: another process (a "
                     "supervisor, an orchestrator, a person) sent that SIGKILL; find it before changing memory.")
    return lines


def _timeout(settings: dict[str, Any]) -> str:
    """The server's request timeout as the scenario set it, in the server's own words."""
    process = (settings.get("target") or {}).get("process") or {}
    if process.get("kind") == "gunicorn" and process.get("timeout"):
        return f"gunicorn's --timeout ({process['timeout']} s)"
    if process.get("kind") == "uwsgi" and process.get("harakiri"):
        return f"uWSGI's harakiri ({process['harakiri']} s)"
    return "its timeout"
