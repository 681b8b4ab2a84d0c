"""The alerting section of a report: which timing profile and stack the rules ran
under, and each rule's notifications, latencies and expression, run by run."""

from __future__ import annotations

from tabulate import tabulate

from harness.evidence.alerts import AlertEvidence
from harness.matrix.alerts import kill_latencies, row_id
from harness.result import ScenarioResult


def stack_line(alerts: AlertEvidence, engine_text: str) -> str:
    """Under what the rules were judged: the profile, the stack, the machine."""
    p = alerts.profile
    stack = alerts.stack
    return (f"{p.get('name', '?')} profile (scrape every {p.get('scrape_interval_s', 0):g} s, evaluation every "
            f"{p.get('evaluation_interval_s', 0):g} s, Alertmanager group_wait {p.get('group_wait_s', 0):g} s); "
            f"Prometheus {stack.get('prometheus', '?')}, Alertmanager {stack.get('alertmanager', '?')}, "
            f"node_exporter {stack.get('node_exporter', '?')}; Prometheus started with "
            f"{alerts.history_s / 60:.0f} min of the series' history; on {engine_text}")


def alerting_section(result: ScenarioResult, engine_text: str, fmt: str = "simple") -> list[str]:
    """The lines of the section (none when no run had a monitoring stack)."""
    runs = [(run, run.evidence.alerts) for run in result.runs if run.evidence.alerts is not None]
    if not runs:
        return []
    first = runs[0][1]
    assert first is not None
    lines = [stack_line(first, engine_text)]
    rows = []
    for run, alerts in runs:
        assert alerts is not None
        by_source = {row.source: row for row in run.matrix}
        for rule in alerts.rules:
            row = by_source.get(row_id(rule.name))
            notified = sum(1 for n in alerts.notifications if n.rule == rule.name and n.status == "firing")
            latencies = [f"{t:.1f}" for t in kill_latencies(run.evidence, rule.name) if t is not None]
            rows.append((run.evidence.run, rule.name, f"{rule.for_s:g}s", row.verdict if row else "-", notified,
                         ", ".join(latencies) or "-", ", ".join(rule.reads)))
        lines.append(f"run {run.evidence.run}: waited {alerts.waited_s:.1f} s after the steps "
                     f"(bound {alerts.wait_bound_s:.0f} s); {len(alerts.notifications)} alert notifications received")
    headers = ("run", "rule", "for", "verdict", "notified", "latency per kill (s)", "reads")
    table = tabulate(rows, headers=headers, tablefmt=fmt, maxcolwidths=[None, None, None, None, None, 24, 50])
    return [*lines, table]
