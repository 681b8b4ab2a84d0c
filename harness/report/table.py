"""Where the tables are drawn: the gap matrix, a row per run, and the spread."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from harness.matrix import RunFigures
from harness.matrix.build import MatrixRow
from harness.pressure import pressure_report
from harness.result import ScenarioResult

MATRIX_HEADERS = ("source", "Azure analogue", "kills seen", "verdict", "note")
RUN_HEADERS = ("run", "kills", "kill at (MB alloc)", "RSS (MB)", "killed PIDs", "new PIDs",
               "time to OOM (s)", "peak (MB)", "1-min avg peak (MB)", "client errors", "health outages", "failure mode")


def matrix_rows(matrix: list[MatrixRow]) -> list[tuple[Any, ...]]:
    return [
        (row.source, row.azure_analogue,
         "n/a" if row.kills_seen is None else f"{row.kills_seen}/{row.ground_truth_kills}",
         row.verdict.upper() if row.verdict in ("gap", "partial") else row.verdict, row.note)
        for row in matrix
    ]


def matrix_table(matrix: list[MatrixRow], fmt: str = "simple") -> str:
    """The gap matrix as a table."""
    return tabulate(matrix_rows(matrix), headers=MATRIX_HEADERS, tablefmt=fmt, maxcolwidths=[None, 34, None, None, 40])


def run_rows(result: ScenarioResult) -> list[tuple[Any, ...]]:
    rows = []
    for run in result.runs:
        f = run.figures
        rows.append((run.evidence.run, f.oom_kills, _n(f.kill_threshold_mb), _n(f.kill_rss_mb),
                     _pids(f.killed_pids), _pids(f.replacement_pids), _n(f.time_to_oom_s), _n(f.peak_mb),
                     _n(f.peak_1m_avg_mb), f.client_errors, f.health_failures, _mode(f)))
    return rows


def figures_table(result: ScenarioResult, fmt: str = "simple") -> str:
    """A row per run with the key figures."""
    return tabulate(run_rows(result), headers=RUN_HEADERS, tablefmt=fmt)


def spread_table(result: ScenarioResult, fmt: str = "simple") -> str:
    """Min, max and spread of the figures across runs."""
    rows = [(key, _n(v["min"]), _n(v["max"]), _n(v["stdev"])) for key, v in result.spread().items()]
    return tabulate(rows, headers=("figure", "min", "max", "stdev"), tablefmt=fmt)


def pressure_tables(result: ScenarioResult, fmt: str = "simple") -> list[str]:
    """The memory-pressure delta tables and latency per phase of each run that took snapshots."""
    parts = []
    for run in result.runs:
        report = pressure_report(run.evidence)
        if report is None:
            continue
        names = report.snapshots
        headers = ("metric", *names, *(f"delta {n}" for n in names[1:]), "meaning")
        rows = [(row["metric"], *map(_n, row["values"]), *map(_n, row["deltas"][1:]), row["meaning"])
                for row in report.table]
        latency = [(r["phase"], r["requests"], r["mean_ms"], r["p95_ms"], r["max_ms"], r["errors_5xx"])
                   for r in report.latency]
        parts += [
            f"Memory pressure, run {run.evidence.run} ({report.swap})",
            tabulate(rows, headers=headers, tablefmt=fmt),
            "",
            tabulate(latency, headers=("phase", "requests", "mean ms", "p95 ms", "max ms", "5xx"), tablefmt=fmt),
            "",
            f"verdict: {report.verdict}" + "".join(f"\n  - {reason}" for reason in report.reasons),
            "",
        ]
    return parts


def engine_line(engine: dict[str, Any]) -> str:
    """``docker 20.10.24, cgroup v1, kernel 6.1`` with only the parts the backend knows."""
    parts = [" ".join(str(engine[k]) for k in ("name", "version") if engine.get(k)) or "unknown backend"]
    if engine.get("cgroup_version"):
        parts.append(f"cgroup v{engine['cgroup_version']}")
    if engine.get("kernel"):
        parts.append(f"kernel {engine['kernel']}")
    return ", ".join(parts)


def render_text(result: ScenarioResult) -> str:
    """The whole terminal report."""
    head = f"scenario {result.scenario}: {len(result.runs)} run(s) on {engine_line(result.engine)}"
    parts = [head, "", "Gap matrix", matrix_table(result.matrix), "", "Runs", figures_table(result)]
    if len(result.runs) > 1:
        parts += ["", "Spread across runs", spread_table(result)]
    pressure = pressure_tables(result)
    if pressure:
        parts += ["", *pressure]
    verdict = "PASSED" if result.passed else "FAILED"
    parts += ["", f"expectations: {verdict}"] + [f"  - {f}" for f in result.failures]
    return "\n".join(parts)


def _mode(figures: RunFigures) -> str:
    if figures.failure_mode in ("memory_error", "both"):
        return f"{figures.failure_mode} ({figures.memory_errors} MemoryError)"
    return figures.failure_mode


def _n(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _pids(pids: list[int]) -> str:
    return ",".join(str(p) for p in pids[:8]) + ("..." if len(pids) > 8 else "") if pids else "-"
