"""Memory pressure before failure (reference lab 003): delta tables between named
snapshots, latency per phase, and the verdict "pressure present, failure not yet".

Snapshots are the JSON of the lab app's /diag/proc (node-wide meminfo, vmstat, PSI, and
the container's own cgroup stat and pressure) and /diag/stats, captured by ``snapshot``
steps. Inside a container /proc shows the node; the cgroup's figures are the container's
own, so both are tabulated. Where the answer to "is it under pressure" is made:
:func:`verdict`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.evidence import RunEvidence
from harness.units import KIB, MIB

Getter = Callable[[dict[str, Any]], float | None]


def _path(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _cgroup_value(name: str) -> Getter:
    return lambda snap: _num(_path(snap, "/diag/proc", "cgroup", name, "value"))


def _cgroup_stat(*keys: str) -> Getter:
    """The first of ``keys`` present in the cgroup's memory.stat (v1 and v2 names differ)."""
    def get(snap: dict[str, Any]) -> float | None:
        stat = _path(snap, "/diag/proc", "cgroup", "stat") or {}
        return next((_num(stat[k]) for k in keys if k in stat), None)
    return get


def _mb(getter: Getter) -> Getter:
    return lambda snap: None if (v := getter(snap)) is None else round(v / MIB, 1)


def _headroom_mb(snap: dict[str, Any]) -> float | None:
    usage, limit = _cgroup_value("usage_bytes")(snap), _cgroup_value("limit_bytes")(snap)
    return None if usage is None or limit is None else round((limit - usage) / MIB, 1)


def _node(section: str, key: str) -> Getter:
    return lambda snap: _num(_path(snap, "/diag/proc", section, key))


def _psi(kind: str) -> Getter:
    """avg10 of memory PSI: the cgroup's own (v2) where there is one, else the node's."""
    def get(snap: dict[str, Any]) -> float | None:
        own = _path(snap, "/diag/proc", "cgroup", "pressure", kind, "avg10")
        return _num(own) if own is not None else _num(_path(snap, "/diag/proc", "pressure", "memory", kind, "avg10"))
    return get


# (label, getter, what a rise or fall means)
METRICS: tuple[tuple[str, Getter, str], ...] = (
    ("cgroup usage (MB)", _mb(_cgroup_value("usage_bytes")), "memory charged to the container"),
    ("cgroup headroom (MB)", _headroom_mb, "limit minus usage"),
    ("cgroup page cache (MB)", _mb(_cgroup_stat("total_cache", "file")), "what reclaim can take without swap"),
    ("cgroup anon (MB)", _mb(_cgroup_stat("total_rss", "anon")), "leaked and live heap"),
    ("cgroup pages out", _cgroup_stat("total_pgpgout", "pgsteal"),
     "v1: pages leaving the cgroup, freed or reclaimed; v2: pages reclaimed"),
    ("cgroup refaults (file)", _cgroup_stat("total_workingset_refault_file", "workingset_refault_file"),
     "evicted pages read again"),
    ("cgroup major faults", _cgroup_stat("total_pgmajfault", "pgmajfault"), "reads from disk"),
    ("node MemAvailable (MB)", lambda s: None if (v := _node("meminfo", "MemAvailable")(s)) is None
     else round(v * KIB / MIB, 1), "the node's headroom"),
    ("node pgscan_direct", _node("vmstat", "pgscan_direct"), "direct reclaim (memcg limit reclaim counts here)"),
    ("node pgscan_kswapd", _node("vmstat", "pgscan_kswapd"), "background reclaim"),
    ("node allocstall_normal", _node("vmstat", "allocstall_normal"), "allocation stalls"),
    ("node pswpout", _node("vmstat", "pswpout"), "swap-out"),
    ("PSI memory some avg10", _psi("some"), "share of time some task stalled on memory"),
    ("PSI memory full avg10", _psi("full"), "share of time all tasks stalled on memory"),
    ("leak blocks", lambda s: _num(_path(s, "/diag/stats", "leak_blocks")), "retained /leak blocks (this worker)"),
)


@dataclass(frozen=True)
class PressureReport:
    """Snapshot values per metric, latency per phase, swap note and the verdict."""

    snapshots: list[str]
    table: list[dict[str, Any]]
    latency: list[dict[str, Any]]
    swap: str
    verdict: str
    reasons: list[str]


def pressure_report(evidence: RunEvidence) -> PressureReport | None:
    """The pressure analysis of a run, or None when it took no snapshots."""
    snaps = evidence.snapshots
    if len(snaps) < 2:
        return None
    names = [s["name"] for s in snaps]
    table = [_metric_row(label, get, meaning, snaps) for label, get, meaning in METRICS]
    latency = latency_by_phase(evidence)
    swap = _swap_note(snaps)
    verdict_text, reasons = verdict(table, latency, len(evidence.kills))
    return PressureReport(names, table, latency, swap, verdict_text, reasons)


def _metric_row(label: str, get: Getter, meaning: str, snaps: list[dict[str, Any]]) -> dict[str, Any]:
    values = [get(s["data"]) for s in snaps]
    first = values[0]
    deltas = [None if v is None or first is None else round(v - first, 2) for v in values]
    return {"metric": label, "values": values, "deltas": deltas, "meaning": meaning}


def _swap_note(snaps: list[dict[str, Any]]) -> str:
    total = _node("meminfo", "SwapTotal")(snaps[0]["data"])
    if total is None:
        return "unavailable: /proc/meminfo not read"
    return "no swap on this host: reclaim can only take page cache" if total == 0 else f"{total / KIB:.0f} MB of swap"


def latency_by_phase(evidence: RunEvidence) -> list[dict[str, Any]]:
    """Requests grouped by the step that sent them: count, mean, p95, max (ms), 5xx."""
    phases: dict[str, list[Any]] = {}
    for request in evidence.requests:
        phases.setdefault(request.step, []).append(request)
    rows = []
    for step, requests in phases.items():
        latencies = sorted(r.latency_ms for r in requests)
        rows.append({
            "phase": step, "requests": len(requests),
            "mean_ms": round(statistics.fmean(latencies), 1),
            "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1),
            "max_ms": round(latencies[-1], 1),
            "errors_5xx": sum(1 for r in requests if r.error == "5xx"),
            "other_errors": sum(1 for r in requests if r.error and r.error != "5xx"),
        })
    return rows


def verdict(table: list[dict[str, Any]], latency: list[dict[str, Any]], kills: int) -> tuple[str, list[str]]:
    """Pressure present when headroom collapsed or reclaim moved; failure when anything
    was killed or answered 5xx."""
    rows = {row["metric"]: row for row in table}
    reasons = []
    headroom = rows["cgroup headroom (MB)"]["values"]
    if headroom[0] and all(v is not None for v in headroom) and min(headroom[1:]) < 0.5 * headroom[0]:
        reasons.append(f"headroom fell from {headroom[0]:g} MB to {min(headroom[1:]):g} MB")
    for metric in ("cgroup refaults (file)", "node pgscan_direct", "node pgscan_kswapd"):
        deltas = [d for d in rows[metric]["deltas"][1:] if d is not None]
        if deltas and max(deltas) > 0:
            reasons.append(f"{metric} rose by {max(deltas):g}")
    cache = rows["cgroup page cache (MB)"]["values"]
    if all(v is not None for v in cache) and min(cache[1:]) < 0.8 * cache[0]:
        reasons.append(f"page cache reclaimed: {cache[0]:g} MB -> {min(cache[1:]):g} MB")
    errors = sum(row["errors_5xx"] for row in latency)
    failed = kills > 0 or errors > 0
    present = bool(reasons)
    if present and not failed:
        return "pressure present, failure not yet", reasons
    if failed:
        return f"failure: {kills} OOM kill(s), {errors} 5xx", reasons
    return "no pressure measured", reasons or ["headroom, reclaim and cache held steady"]
