"""Alerting rules as rows of the gap matrix: where a rule's verdict is made.

One row per rule (source ``alert:<name>``, its origin in the analogue column). A kill is
caught by a rule when Alertmanager delivered a firing notification of that rule after the
kill, or the rule was already firing, notified, when the kill came (one page covers the
kills of one incident). The rule's row is then:

- ``visible`` / ``partial``: caught k of n kills, with the latency from the kernel's kill
  to the notification's arrival;
- ``misleading``: it fired with no kill behind it (a firing that began before the run's
  first kill, or in a run without one), however many kills it also caught;
- ``gap``: it never fired, though it could have: every series it reads was scraped and it
  never even became pending; the note gives its expression and what those series did;
- ``unavailable``: it could not have looked or could not finish: the stack did not run,
  a series it reads was never scraped (its source could not be read, or the harness does
  not produce it), it was still pending when the run's wait ended (its ``for`` is longer),
  or Prometheus had it firing but no notification arrived in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.evidence import RunEvidence
from harness.evidence.alerts import AlertEvidence, AlertNotification, AlertRule, SeriesPoints
from harness.matrix.build import MatrixRow, verdict
from harness.matrix.truth import GroundTruth, ground_truth
from harness.monitoring.kube_metrics import ABSENCE_MEANS, METRIC_NEEDS
from harness.monitoring.rules import longest_lookback_s

PREFIX = "alert:"
#: A firing may start this much before the kill it reports (two clocks on one machine).
CLOCK_SLACK_S = 0.5
#: A scrape's timestamp is taken before the exporter answers: a value stamped this much
#: before a kill may already count it.
SCRAPE_SLACK_S = 0.1
#: Around a kill, the series a gap's note describes: from this long before ...
BEFORE_KILL_S = 30.0


def row_id(rule: str) -> str:
    return f"{PREFIX}{rule}"


def alert_rows(evidence: RunEvidence, truth: GroundTruth | None = None) -> list[MatrixRow]:
    """The rows of every rule the run's monitoring stack evaluated (none without one)."""
    alerts = evidence.alerts
    if alerts is None:
        return []
    kills = (truth or ground_truth(evidence)).times
    if not alerts.rules and not alerts.status.available:
        # Your Prometheus could not be read: its rules are not even known, and the row
        # that stands for all of them says why.
        return [MatrixRow(row_id("*"), alerts.source, None, len(kills), "unavailable",
                          alerts.status.reason or "could not be read")]
    return [rule_row(evidence, alerts, rule, kills) for rule in alerts.rules]


def rule_row(evidence: RunEvidence, alerts: AlertEvidence, rule: AlertRule, kills: Sequence[float]) -> MatrixRow:
    """One rule's row."""
    late = _too_late(alerts, kills)
    kills = [k for k in kills if k not in late]
    truth = len(kills)
    why_not = _could_not_look(evidence, alerts, rule)
    if why_not:
        return MatrixRow(row_id(rule.name), rule.origin, None, truth, "unavailable", why_not)
    if late and not kills:
        return MatrixRow(row_id(rule.name), rule.origin, None, 0, "unavailable", _ended_too_soon(alerts, late) or "")
    firings = _firings(alerts.notifications, rule.name)
    first_kill = min(kills, default=None)
    false = [f for f in firings if first_kill is None or f.start < first_kill - CLOCK_SLACK_S]
    caught, latencies = _caught(kills, firings)
    if not firings:
        state = alerts.state(rule.name)
        if state.firing_at is not None:
            return MatrixRow(row_id(rule.name), rule.origin, None, truth, "unavailable",
                             f"firing in Prometheus at {_at(state.firing_at, kills)} but no notification arrived "
                             f"within the {alerts.waited_s:.0f} s the run waited")
        if state.pending_at is not None:
            return MatrixRow(row_id(rule.name), rule.origin, None, truth, "unavailable",
                             f"pending from {_at(state.pending_at, kills)}; its for: {_duration(rule.for_s)} is "
                             f"longer than the {alerts.waited_s:.0f} s the run waited (wait bound "
                             f"{alerts.wait_bound_s:.0f} s)")
        cut_short = _ended_too_soon(alerts, kills)
        if cut_short:
            return MatrixRow(row_id(rule.name), rule.origin, None, truth, "unavailable", cut_short)
        if truth == 0:
            return MatrixRow(row_id(rule.name), rule.origin, 0, 0, "none", "never fired (no kill to see)")
        blind = _unscraped(alerts, rule, kills)
        looked = [k for k in kills if k not in blind]
        if not looked:
            reason = next(iter(blind.values()))
            return MatrixRow(row_id(rule.name), rule.origin, None, truth, "unavailable", reason)
        note = _gap_note(alerts, rule, looked)
        if blind:
            numbers = ", ".join(str(kills.index(k) + 1) for k in blind)
            note += f"; kill(s) {numbers} not judged: {next(iter(blind.values()))}"
        return MatrixRow(row_id(rule.name), rule.origin, 0, len(looked), "gap", note)
    note = _fired_note(caught, truth, latencies, len(firings))
    if false:
        note += f"; {len(false)} firing(s) with no OOM kill behind it"
    if late:
        note += f"; {len(late)} kill(s) too close to the run's end to judge"
    return MatrixRow(row_id(rule.name), rule.origin, caught, truth,
                     verdict(caught, truth, false_claims=len(false)), note, len(false))


def _too_late(alerts: AlertEvidence, kills: Sequence[float]) -> list[float]:
    """Kills after which the run did not watch for the profile's worst case: no rule could
    have been judged on them."""
    if not alerts.ended_at:
        return []
    return [k for k in kills if alerts.ended_at - k < alerts.worst_case_s()]


def _unscraped(alerts: AlertEvidence, rule: AlertRule, kills: Sequence[float]) -> dict[float, str]:
    """The kills a rule could not have seen because a metric it reads had no sample in the
    harness's own stack from just before the kill to the profile's worst case after it (a
    failed or timed-out scrape), each with why. A hole around one kill does not blind the
    rule to the others: they are still judged, as the matrix counts only the kills a
    source could look at."""
    if not alerts.own_stack or not kills:
        return {}
    step = float(alerts.profile.get("scrape_interval_s", 1.0))
    blind: dict[float, str] = {}
    for kill in kills:
        reason = _scrape_hole(alerts, rule, kill - 2 * step, kill + alerts.worst_case_s(), step)
        if reason:
            blind[kill] = reason
    return blind


def _scrape_hole(alerts: AlertEvidence, rule: AlertRule, start: float, end: float, step: float) -> str | None:
    """Why a metric the rule reads was not scraped between ``start`` and ``end``, or None."""
    for metric in rule.reads:
        if metric in ABSENCE_MEANS or metric in alerts.series_absent:
            continue  # absent by its meaning, or already judged
        series = [s for s in alerts.series if s.metric == metric]
        times = sorted(t for s in series for t, _ in s.points if start <= t <= end)
        if not times:
            return f"reads {metric}, which Prometheus did not scrape around the kill"
        holes = [b - a for a, b in zip([start, *times], [*times, end], strict=True)]
        if max(holes) > 3 * step:
            return (f"reads {metric}, which Prometheus did not scrape for {max(holes):.0f} s around the kill "
                    f"(scrapes every {step:g} s)")
    return None


def _ended_too_soon(alerts: AlertEvidence, kills: Sequence[float]) -> str | None:
    """Why the run's end came before a rule that never fired could have: the stack was
    read before the profile's worst case had passed since the last kill (or since the
    stack was ready, in a run without one)."""
    if not alerts.ended_at:
        return None
    since = max([alerts.started_at, *kills])
    worst = alerts.worst_case_s()
    if alerts.ended_at - since >= worst:
        return None
    return (f"the run ended {alerts.ended_at - since:.0f} s after the last kill, before the "
            f"{worst:.0f} s a rule can take under the {alerts.profile.get('name', '?')} profile")


def _could_not_look(evidence: RunEvidence, alerts: AlertEvidence, rule: AlertRule) -> str | None:
    """Why the rule could not have seen a kill in this run, or None."""
    if not alerts.status.available:
        return alerts.status.reason or "the monitoring stack could not be read"
    if alerts.own_stack:
        for metric in rule.reads:
            for group in METRIC_NEEDS.get(metric, ()):
                if not any(evidence.available(source) for source in group):
                    reasons = [evidence.status[s].reason for s in group if s in evidence.status]
                    why = "; ".join(r for r in reasons if r) or "not collected"
                    return f"reads {metric}, whose source {' or '.join(group)} is unavailable: {why}"
        lookback = longest_lookback_s(rule.expr)
        if lookback > alerts.history_s:
            return (f"reads {lookback / 60:g} min back, more than the {alerts.history_s / 60:g} min of history "
                    "Prometheus was given")
    absent = [m for m in rule.reads if m in alerts.series_absent]
    if absent:
        return "; ".join(f"reads {m}: {alerts.series_absent[m]}" for m in absent)
    if not rule.reads:
        return "its expression selects no metric the run could produce"
    return None


@dataclass(frozen=True)
class Firing:
    """One alert instance of a rule (a fingerprint and a start): when it started, when
    its first firing notification arrived, and when it ended (None: still firing)."""

    start: float
    arrived: float
    end: float | None


def _firings(notifications: Sequence[AlertNotification], rule: str) -> list[Firing]:
    """The rule's alert instances that Alertmanager notified as firing."""
    arrived: dict[tuple[str, float], float] = {}
    ended: dict[tuple[str, float], float] = {}
    for n in notifications:
        if n.rule != rule or n.starts_at is None:
            continue
        key = (n.fingerprint, n.starts_at)
        if n.status == "firing":
            arrived[key] = min(arrived.get(key, n.received_t), n.received_t)
        elif n.status == "resolved":
            ended[key] = n.ends_at if n.ends_at is not None else n.received_t
    return sorted((Firing(start, first, ended.get((fp, start))) for (fp, start), first in arrived.items()),
                  key=lambda f: f.start)


def kill_latency(kill: float, firings: Sequence[Firing]) -> float | None:
    """How long after ``kill`` the rule paged: 0.0 when an instance that began before the
    kill was active when it came (the page was out already); else the arrival of the
    first instance that began after it; None when nothing covered it."""
    if _already(kill, firings):
        return 0.0
    after = [f.arrived for f in firings if f.start >= kill - SCRAPE_SLACK_S]
    return min(after) - kill if after else None


def _caught(kills: Sequence[float], firings: Sequence[Firing]) -> tuple[int, list[float]]:
    """How many kills the notified firings covered, and the latencies of those a firing
    announced (not those it was already firing for)."""
    found = [kill_latency(kill, firings) for kill in sorted(kills)]
    announced = [t for t, kill in zip(found, sorted(kills), strict=True)
                 if t is not None and not _already(kill, firings)]
    return sum(1 for t in found if t is not None), announced


def _already(kill: float, firings: Sequence[Firing]) -> bool:
    """An instance that began before the kill was active when it came."""
    return any(f.start < kill - SCRAPE_SLACK_S and (f.end is None or f.end >= kill) for f in firings)


def kill_latencies(evidence: RunEvidence, rule: str) -> list[float | None]:
    """For each OOM kill of the run, in order: how long after it a firing notification of
    ``rule`` arrived (0.0 when the rule was already firing, notified, when the kill came),
    or None when nothing of the rule covered it."""
    alerts = evidence.alerts
    if alerts is None:
        return []
    firings = _firings(alerts.notifications, rule)
    return [kill_latency(kill, firings) for kill in ground_truth(evidence).times]


def _fired_note(caught: int, truth: int, latencies: Sequence[float], firings: int) -> str:
    if truth == 0:
        return f"fired {firings}x"
    text = f"fired for {caught}/{truth} kills"
    if latencies:
        low, high = min(latencies), max(latencies)
        text += f", notified {low:.1f} s after the kill" if len(latencies) == 1 or high - low < 0.05 else \
            f", notified {low:.1f}-{high:.1f} s after the kill"
    if caught > len(latencies):
        text += f" ({caught - len(latencies)} while already firing)"
    return text


def _gap_note(alerts: AlertEvidence, rule: AlertRule, kills: Sequence[float]) -> str:
    """Never fired: the expression and what the series it reads did around the first kill."""
    kill = min(kills)
    parts = [f"never fired: {' '.join(rule.expr.split())}"]
    if not alerts.own_stack:
        return parts[0]
    for metric in rule.reads:
        series = [s for s in alerts.series if s.metric == metric]
        parts.append(f"{metric} {describe_series(series, kill) if series else ABSENCE_MEANS.get(metric, 'no series')}")
    return "; ".join(parts)


def describe_series(series: Sequence[SeriesPoints], kill: float) -> str:
    """What a metric's series did from before the kill to the end of the run, briefly."""
    window = [(s, [(t, v) for t, v in s.points if t >= kill - BEFORE_KILL_S]) for s in series]
    window = [(s, points) for s, points in window if points]
    if not window:
        return "had no series around the kill"
    texts = []
    for s, points in window[:2]:
        label = s.labels.get("reason")
        name = f"{{reason={label}}} " if label else ""
        first, last = points[0][1], points[-1][1]
        if points[0][0] > kill:
            texts.append(f"{name}appeared {points[0][0] - kill:+.1f} s after the kill at {_number(first)}"
                         + (f", then {_number(last)}" if last != first else ""))
        elif first == last:
            texts.append(f"{name}stayed {_number(first)}")
        else:
            changed = next(t for t, v in points if v != first)
            texts.append(f"{name}{_number(first)} -> {_number(last)} (from {changed - kill:+.1f} s)")
    more = f" (+{len(window) - 2} series)" if len(window) > 2 else ""
    return ", ".join(texts) + more


def _number(value: float) -> str:
    return f"{value:g}"


def _at(t: float, kills: Sequence[float]) -> str:
    return f"{t - min(kills):+.1f} s after the first kill" if kills else "during the run"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 60 else f"{seconds:g}s"
