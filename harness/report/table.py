"""Where the tables are drawn: the gap matrix, a row per run, the spread, the console's
kill lines, memory pressure and the per-request trace."""

from __future__ import annotations

import re
from typing import Any

from tabulate import tabulate

from harness.attempts import RequestTrace, explain_run, trace_requests
from harness.collectors import console_logs
from harness.evidence import Kill, Observation, RunEvidence
from harness.matrix import RunFigures
from harness.matrix.build import MatrixRow
from harness.matrix.claims import KillLines, nearest_lines, pair_kill_lines
from harness.pressure import pressure_report
from harness.result import RunResult, ScenarioResult
from harness.sources import analogue

PLATFORM_HEADERS = {"azure": "Azure analogue", "kubernetes": "Kubernetes analogue"}
RUN_HEADERS = ("run", "kills", "kill at (MB alloc)", "RSS (MB)", "killed PIDs", "new PIDs",
               "time to OOM (s)", "peak (MB)", "1-min avg peak (MB)", "client errors", "health outages", "failure mode")


def matrix_rows(matrix: list[MatrixRow], platform: str = "azure") -> list[tuple[Any, ...]]:
    return [
        (row.source, row.azure_analogue if platform == "azure" else analogue(row.source, platform, row.azure_analogue),
         "n/a" if row.kills_seen is None else f"{row.kills_seen}/{row.ground_truth_kills}",
         row.verdict.upper() if row.verdict in ("gap", "partial", "misleading") else row.verdict, row.note)
        for row in matrix
    ]


def matrix_table(matrix: list[MatrixRow], fmt: str = "simple", platform: str = "azure") -> str:
    """The gap matrix as a table, with ``platform``'s analogues (azure or kubernetes)."""
    headers = ("source", PLATFORM_HEADERS[platform], "kills seen", "verdict", "note")
    return tabulate(matrix_rows(matrix, platform), headers=headers, tablefmt=fmt,
                    maxcolwidths=[None, 34, None, None, 40])


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


KILL_LINE_HEADERS = ("run", "at (s)", "kill line", "pattern", "OOM kill")
MAX_KILL_LINE_ROWS = 20
LINE_WIDTH = 100


def kill_line_table(result: ScenarioResult, fmt: str = "simple") -> str | None:
    """The console lines that counted as kills, each with the OOM kill it reported (or
    none: a false claim); times are seconds from the run's start. None without any."""
    rows: list[tuple[Any, ...]] = []
    for run in _with_console(result):
        claims = pair_kill_lines(run.evidence)
        rows += [(run.evidence.run, _at(run.evidence, line.t), _clip(line), line.detail.get("pattern") or "-",
                  _reported(run.evidence, claims, line)) for line in claims.lines]
    if not rows:
        return None
    table = tabulate(rows[:MAX_KILL_LINE_ROWS], headers=KILL_LINE_HEADERS, tablefmt=fmt,
                     maxcolwidths=[None, None, 60, 24, None], disable_numparse=True)
    hidden = len(rows) - MAX_KILL_LINE_ROWS
    return table + (f"\n({hidden} more kill line(s) not shown; all are in result.json)" if hidden > 0 else "")


def unreported_kills(result: ScenarioResult) -> list[str]:
    """For each OOM kill no console line reported, the console lines nearest to it."""
    lines: list[str] = []
    for run in _with_console(result):
        evidence = run.evidence
        for kill in pair_kill_lines(evidence).unexplained:
            lines.append(f"run {evidence.run}: OOM kill at {_at(evidence, kill.t)} s{_victim(kill)}: no kill line; "
                         "the console lines nearest to it:")
            lines += [f"    {_at(evidence, o.t)} s  {_clip(o)}" for o in nearest_lines(evidence, kill.t)]
    return lines


def _with_console(result: ScenarioResult) -> list[RunResult]:
    """The runs whose console logs could be read (the others have no lines to show)."""
    return [run for run in result.runs if run.evidence.available("console_logs")]


def _reported(evidence: RunEvidence, claims: KillLines, line: Observation) -> str:
    if not claims.judged:
        return "not judged (no cgroup counter or kernel log)"
    kill = claims.kill_of(line)
    if kill is None:
        return "NONE: a kill that did not happen"
    return f"yes, at {_at(evidence, kill.t)} s"


def _victim(kill: Kill) -> str:
    if kill.victim_name is None and kill.victim_pid is None:
        return ""
    return f" (victim {kill.victim_name or '?'}, host PID {_n(kill.victim_pid)})"


def _at(evidence: RunEvidence, t: float) -> str:
    return f"{t - evidence.started_at:.1f}"


def _clip(obs: Observation) -> str:
    text = " ".join(console_logs.message(str(obs.detail.get("line", ""))).split())
    return text if len(text) <= LINE_WIDTH else text[: LINE_WIDTH - 3] + "..."


REQUEST_HEADERS = ("run", "step", "request id", "sent by ingress", "reached app", "kills", "client got",
                   "ingress log")
MAX_REQUEST_ROWS = 10


def request_tables(result: ScenarioResult, fmt: str = "simple") -> list[str]:
    """Per client request: attempts the ingress sent, attempts that reached the app, the
    kills they caused and what the client got; then a sentence per run on the worst one.
    Only requests that killed, were sent twice, or failed get a row."""
    rows: list[tuple[Any, ...]] = []
    sentences = []
    hidden = 0
    for run in result.runs:
        traces = trace_requests(run.evidence)
        notable = [t for t in traces if t.notable]
        hidden += max(0, len(notable) - MAX_REQUEST_ROWS)
        rows += [(run.evidence.run, t.step, t.request_id, _n(t.sent_by_proxy), _n(t.attempts), _n(t.kills),
                  _client_got(t), _proxy_line(t)) for t in notable[:MAX_REQUEST_ROWS]]
        sentence = explain_run(traces)
        if sentence:
            sentences.append(f"run {run.evidence.run}: {sentence}")
    if not rows:
        return []
    parts = [tabulate(rows, headers=REQUEST_HEADERS, tablefmt=fmt, maxcolwidths=[None] * 6 + [40, None])]
    if hidden:
        parts.append(f"({hidden} more request(s) not shown; all are in result.json under per_request)")
    return parts + [""] + sentences


def _client_got(trace: RequestTrace) -> str:
    if trace.client_status is None:
        return f"no answer ({trace.client_error})"
    body = " ".join(strip_tags(trace.body or "").split())[:60]
    return f'{trace.client_status} "{body}"' if body else str(trace.client_status)


def _proxy_line(trace: RequestTrace) -> str:
    if trace.proxy_status is None and trace.proxy_termination is None:
        return "-"
    return f"{_n(trace.proxy_status)} {trace.proxy_termination}, retried {trace.proxy_retries}"


def engine_line(engine: dict[str, Any]) -> str:
    """``docker 20.10.24, cgroup v1, kernel 6.1`` with only the parts the backend knows."""
    parts = [" ".join(str(engine[k]) for k in ("name", "version") if engine.get(k)) or "unknown backend"]
    if engine.get("cgroup_version"):
        parts.append(f"cgroup v{engine['cgroup_version']}")
    if engine.get("cgroup_driver"):
        parts[-1] += f" ({engine['cgroup_driver']} driver)" if engine.get("cgroup_version") else ""
    if engine.get("kernel"):
        parts.append(f"kernel {engine['kernel']}")
    host = engine.get("host")
    if isinstance(host, dict):
        accel = "software emulation" if host.get("accel") == "tcg" else host.get("accel", "?")
        parts.append(f"in the cgroup v2 guest under qemu ({accel})")
    if engine.get("time_scale"):
        parts.append(f"waits stretched x{engine['time_scale']:g} for the guest's speed")
    return ", ".join(parts)


def render_text(result: ScenarioResult, platform: str = "azure") -> str:
    """The whole terminal report, with ``platform``'s analogues."""
    head = f"scenario {result.scenario}: {len(result.runs)} run(s) on {engine_line(result.engine)}"
    parts = [head, "", "Gap matrix", matrix_table(result.matrix, platform=platform), "", "Runs", figures_table(result)]
    if len(result.runs) > 1:
        parts += ["", "Spread across runs", spread_table(result)]
    kill_lines, unreported = kill_line_table(result), unreported_kills(result)
    if kill_lines or unreported:
        parts += ["", "Console kill lines"] + ([kill_lines] if kill_lines else []) + unreported
    pressure = pressure_tables(result)
    if pressure:
        parts += ["", *pressure]
    requests = request_tables(result)
    if requests:
        parts += ["", "Per client request", *requests]
    from harness.report.alerting import alerting_section

    alerting = alerting_section(result, engine_line(result.engine))
    if alerting:
        parts += ["", "Alerting rules", *alerting]
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


def strip_tags(html: str) -> str:
    """The text of a small HTML error page (a proxy's 502 page), tags removed."""
    return re.sub(r"<[^>]+>", " ", html)
