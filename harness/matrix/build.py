"""Counting what each source saw and judging it: where every verdict is made.

A source's ``kills_seen`` is the number of ground-truth kills it gave evidence of (its
kill observations, capped at the truth). Memory metrics are judged by whether the kill's
drop is visible in their series and whether they under-report the true peak: a metric
that shows the drop but misses the peak by more than 10 % is ``partial``, as the
reference lab judged WorkingSetBytes.

Console kill lines are paired with the ground truth's kills by time
(:mod:`harness.matrix.claims`): a line that claims a kill the cgroup counter did not see
makes the source ``misleading``, whatever else it saw, with the count of those false
claims, because a reader cannot tell its true lines from its false ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import sources
from harness.evidence import RunEvidence
from harness.matrix.claims import pair_kill_lines
from harness.matrix.truth import GroundTruth, ground_truth
from harness.scenario.fields import Verdict

PEAK_TOLERANCE = 0.10  # a metric peak more than 10 % below the true peak under-reports
HIGHRES_DROP = 0.25  # a drop of a quarter of the pre-kill level marks a kill in a series
MINUTE_DROP = 0.20  # ... and of a fifth between consecutive 1-minute averages


@dataclass(frozen=True)
class MatrixRow:
    """One row of the gap matrix."""

    source: str
    azure_analogue: str
    kills_seen: int | None
    ground_truth_kills: int
    verdict: Verdict
    note: str = ""
    false_claims: int = 0  # kills the source claimed that did not happen (console kill lines)


def build_matrix(evidence: RunEvidence, truth: GroundTruth | None = None) -> list[MatrixRow]:
    """The gap matrix of one run: a row per signal source, then one per alerting rule the
    run's monitoring stack evaluated (:mod:`harness.matrix.alerts`)."""
    from harness.matrix.alerts import alert_rows

    truth = truth or ground_truth(evidence)
    return [_row(evidence, source.id, truth) for source in sources.SOURCES] + alert_rows(evidence, truth)


def _row(evidence: RunEvidence, source: str, ground: GroundTruth) -> MatrixRow:
    analogue, truth = sources.analogue(source), ground.count
    if not evidence.available(source):
        reason = evidence.status.get(source)
        why = reason.reason if reason and reason.reason else "not collected"
        return MatrixRow(source, analogue, None, truth, "unavailable", why)
    if source == "metric_highres" and (unsampled := _unsampled_kills(evidence, ground)):
        at = ", ".join(f"+{t - evidence.started_at:.1f} s" for t in unsampled)
        return MatrixRow(source, analogue, None, truth, "unavailable",
                         f"no memory sample within {DROP_BEFORE_S:g} s before and {DROP_AFTER_S:g} s after the kill "
                         f"at {at}: the sampler did not look then (starved of CPU, or the target frozen)")
    if source == "metric_highres":
        seen, note, under = _highres(evidence, ground)
    elif source == "metric_1m_avg":
        seen, note, under = _one_minute(evidence, ground)
    elif source == "engine_state":
        count = _kill_count(evidence, source)
        seen, note, under = min(count, truth), _engine_state_note(evidence), False
    elif source == "console_logs":
        return _console_row(evidence, analogue, ground)
    else:
        count = _kill_count(evidence, source)
        seen, note, under = min(count, truth), _count_note(source, count), False
        if source == "health_probe" and evidence.health_probe_boot_failures:
            note += f" ({evidence.health_probe_boot_failures} failed probes before the target first answered)"
    return MatrixRow(source, analogue, seen, truth, verdict(seen, truth, under), note)


def _console_row(evidence: RunEvidence, analogue: str, ground: GroundTruth) -> MatrixRow:
    """The console's row: its kill lines paired with the kills, false claims counted."""
    claims, truth = pair_kill_lines(evidence, ground), ground.count
    count = len(claims.lines)
    if not claims.judged:
        seen = min(count, truth)
        note = _count_note("console_logs", count)
        return MatrixRow("console_logs", analogue, seen, truth, verdict(seen, truth), note)
    false = len(claims.false_claims)
    note = _count_note("console_logs", count)
    if false:
        note += f", {false} without an OOM kill (kills claimed that did not happen)"
    return MatrixRow("console_logs", analogue, len(claims.matched), truth,
                     verdict(len(claims.matched), truth, false_claims=false), note, false)


def verdict(seen: int, truth: int, under_reports_peak: bool = False, false_claims: int = 0) -> Verdict:
    """misleading: claimed kills that did not happen (whatever else it saw); visible: saw
    every kill; partial: some, or all but with the peak under-reported; gap: none; none:
    there was no kill to see."""
    if false_claims:
        return "misleading"
    if truth == 0:
        return "none"
    if seen == 0:
        return "gap"
    if seen < truth or under_reports_peak:
        return "partial"
    return "visible"


def _kill_count(evidence: RunEvidence, source: str) -> int:
    return sum(1 for o in evidence.observations if o.source == source and o.kill)


def _count_note(source: str, count: int) -> str:
    declared = sources.by_id(source)
    return f"{count} {declared.counts if declared else 'observations'}"


def _engine_state_note(evidence: RunEvidence) -> str:
    """What the engine's OOMKilled flag did, in the engine's own terms."""
    observed = evidence.of("engine_state")
    running = sum(1 for o in observed if o.kind == "oom_flag_running")
    exits = sum(1 for o in observed if o.kind == "oom_killed")
    parts = [f"{exits} OOMKilled exits"]
    if running:
        engine = evidence.engine_label
        who = f"{engine}: " if engine else ""
        parts.insert(0, f"{who}State.OOMKilled set while the container kept running ({running}x)")
    return "; ".join(parts)


def true_peak_bytes(evidence: RunEvidence) -> int | None:
    """The kernel's high-water mark (or the highest sample, if higher: a container that
    restarts takes its cgroup's mark with it, so the last mark read can be an earlier
    incarnation's lower one), else the highest RSS the app itself logged (all a
    platform's console logs can tell)."""
    usage = [s.usage_bytes for s in evidence.samples if s.usage_bytes is not None]
    if evidence.highwater_bytes or usage:
        return max([evidence.highwater_bytes or 0, *usage])
    rss = [o.detail["rss_mb"] for o in evidence.observations
           if o.source == "console_logs" and o.kind == "progress" and o.detail.get("rss_mb")]
    return int(max(rss) * 2**20) if rss else None


def _highres(evidence: RunEvidence, truth: GroundTruth) -> tuple[int, str, bool]:
    seen = sum(1 for t in truth.times if _drop_near(evidence, t))
    sampled = max((s.usage_bytes or 0 for s in evidence.samples), default=0)
    peak = true_peak_bytes(evidence)
    under = bool(peak and sampled < (1 - PEAK_TOLERANCE) * peak)
    ratio = f", sampled peak {sampled / peak:.0%} of high-water" if peak else ""
    return seen, f"{seen} drops at kill times{ratio}", under


#: Where a kill's drop is looked for in the high-resolution series: the highest sample
#: from 1 s before the kill, the lowest in the 2 s after it.
DROP_BEFORE_S, DROP_AFTER_S = 1.0, 2.0


def _drop_near(evidence: RunEvidence, t: float) -> bool:
    before, after = _around(evidence, t)
    return bool(before and after) and min(after) <= (1 - HIGHRES_DROP) * max(before)


def _around(evidence: RunEvidence, t: float) -> tuple[list[int], list[int]]:
    """Readings before and after a kill. After it, a reading that found the cgroup gone
    counts as 0: the series saw the container's memory vanish (a PID-1 kill whose next
    incarnation had regrown by the sampler's next reading)."""
    before = [s.usage_bytes for s in evidence.samples if t - DROP_BEFORE_S <= s.t <= t + 0.05 and s.usage_bytes]
    after = [s.usage_bytes or 0 for s in evidence.samples if t <= s.t <= t + DROP_AFTER_S]
    return before, after


def _unsampled_kills(evidence: RunEvidence, truth: GroundTruth) -> list[float]:
    """Kills the sampler could not have shown: no reading in the window before or after.
    A series that did look and shows no drop is a miss; one that did not look is not."""
    if not evidence.samples:
        return []  # no series at all: judged as it always was (a gap with "0 drops")
    return [t for t in truth.times if not all(_around(evidence, t))]


def _one_minute(evidence: RunEvidence, truth: GroundTruth) -> tuple[int, str, bool]:
    points = evidence.one_minute
    if not points:
        return 0, "no 1-minute points", False
    times = truth.times
    seen = 0
    for (start, avg), (_, next_avg) in zip(points, points[1:], strict=False):
        has_kill = any(start <= t < start + 60 for t in times)
        if has_kill and next_avg <= (1 - MINUTE_DROP) * avg:
            seen += 1
    seen = min(seen, len(times) or seen)
    top = max(avg for _, avg in points)
    peak = true_peak_bytes(evidence)
    under = bool(peak and top < (1 - PEAK_TOLERANCE) * peak)
    note = f"1-min peak {top / 2**20:.1f} MB"
    if peak:
        note += f" vs true {peak / 2**20:.1f} MB ({top / peak:.0%})"
    return seen, note, under


def _aggregate_note(notes: list[str]) -> str:
    """``each run: ...`` when the runs agree, else the first two runs' notes."""
    if len(set(notes)) == 1:
        return f"each run: {notes[0]}"
    shown = " | ".join(f"run {i + 1}: {note}" for i, note in enumerate(notes[:2]))
    return shown + (f" | +{len(notes) - 2} more runs" if len(notes) > 2 else "")


def aggregate(matrices: list[list[MatrixRow]]) -> list[MatrixRow]:
    """One matrix over several runs: kills and sightings added up, verdicts re-judged.

    Rows are matched by source id, in the order they first appear. A run in which a
    source was unavailable adds nothing to its counts (it could not look, so its kills are
    neither seen nor missed) and is named in the note; a source unavailable in every run
    is unavailable."""
    if len(matrices) == 1:
        return matrices[0]
    columns: dict[str, list[tuple[int, MatrixRow]]] = {}
    for run, matrix in enumerate(matrices, start=1):
        for row in matrix:
            columns.setdefault(row.source, []).append((run, row))
    return [_aggregate_row(column) for column in columns.values()]


def _aggregate_row(column: list[tuple[int, MatrixRow]]) -> MatrixRow:
    first = column[0][1]
    looked = [row for _, row in column if row.verdict != "unavailable"]
    missing = [f"unavailable in run {run}: {row.note}" for run, row in column if row.verdict == "unavailable"]
    if not looked:
        truth = sum(r.ground_truth_kills for _, r in column)
        return MatrixRow(first.source, first.azure_analogue, None, truth, "unavailable", first.note)
    truth = sum(r.ground_truth_kills for r in looked)
    seen = sum(r.kills_seen or 0 for r in looked)
    partial = any(r.verdict == "partial" for r in looked)
    false = sum(r.false_claims for r in looked)
    note = " | ".join([_aggregate_note([r.note for r in looked]), *missing])
    return MatrixRow(first.source, first.azure_analogue, seen, truth, verdict(seen, truth, partial, false), note, false)
