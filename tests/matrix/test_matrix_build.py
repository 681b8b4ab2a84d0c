"""Where verdicts are made: counting what each source saw against the ground truth."""

from __future__ import annotations

import pytest
from matrix_inputs import obs, recorded_evidence

from harness.backends.fake import scripted_evidence
from harness.evidence import MemorySample, RunEvidence, SourceStatus
from harness.matrix import MatrixRow, aggregate, build_matrix, ground_truth
from harness.matrix.build import true_peak_bytes, verdict
from harness.sources import SOURCES

MIB = 2**20


def _rows(evidence: RunEvidence) -> dict[str, MatrixRow]:
    return {row.source: row for row in build_matrix(evidence)}


@pytest.mark.parametrize(("seen", "truth", "under", "expected"), [
    (0, 0, False, "none"), (3, 0, False, "none"), (0, 2, False, "gap"), (1, 2, False, "partial"),
    (2, 2, False, "visible"), (2, 2, True, "partial"), (0, 2, True, "gap"),
])
def test_verdict(seen: int, truth: int, under: bool, expected: str) -> None:
    assert verdict(seen, truth, under) == expected


def test_a_recorded_worker_kill_gives_the_reference_matrix() -> None:
    rows = _rows(recorded_evidence("gunicorn_gradual"))
    assert [row.source for row in rows.values()] == [s.id for s in SOURCES]
    verdicts = {source: row.verdict for source, row in rows.items()}
    assert verdicts == {
        "cgroup": "visible", "kernel_log": "gap", "engine_oom_event": "visible", "engine_state": "gap",
        "lifecycle_events": "gap", "restart_count": "gap", "console_logs": "visible",
        "metric_1m_avg": "unavailable", "metric_highres": "unavailable", "client": "gap", "health_probe": "gap",
    }
    assert rows["console_logs"].kills_seen == 1 and rows["console_logs"].note == "1 kill lines"
    assert rows["metric_1m_avg"].note == "not recorded" and rows["metric_1m_avg"].kills_seen is None


def test_a_recorded_pid1_restart_loop_shows_in_lifecycle_but_not_in_the_console() -> None:
    rows = _rows(recorded_evidence("pid1_restart"))
    assert rows["cgroup"].ground_truth_kills == 3
    assert (rows["lifecycle_events"].kills_seen, rows["lifecycle_events"].verdict) == (3, "visible")
    assert (rows["console_logs"].kills_seen, rows["console_logs"].verdict) == (0, "gap")


def test_a_second_kill_line_for_one_kill_is_a_false_claim() -> None:
    evidence = scripted_evidence([10.0], [obs("console_logs", 10.1), obs("console_logs", 10.2)])
    row = _rows(evidence)["console_logs"]
    assert (row.kills_seen, row.ground_truth_kills, row.verdict, row.false_claims) == (1, 1, "misleading", 1)
    assert row.note == "2 kill lines, 1 without an OOM kill (kills claimed that did not happen)"


def test_observations_that_are_no_kill_evidence_do_not_count() -> None:
    evidence = scripted_evidence([10.0], [obs("lifecycle_events", 9.0, "start", kill=False)])
    assert _rows(evidence)["lifecycle_events"].verdict == "gap"


def test_unavailable_sources_are_never_counted_as_zero() -> None:
    evidence = scripted_evidence([10.0], unavailable={"kernel_log": "/dev/kmsg not readable"})
    del evidence.status["health_probe"]
    rows = _rows(evidence)
    assert rows["kernel_log"] == MatrixRow("kernel_log", rows["kernel_log"].azure_analogue, None, 1, "unavailable",
                                           "/dev/kmsg not readable")
    assert (rows["health_probe"].verdict, rows["health_probe"].note) == ("unavailable", "not collected")


def test_without_a_kill_every_available_source_says_none() -> None:
    rows = _rows(scripted_evidence([], [obs("client", 1.0)], unavailable={"kernel_log": "no"}))
    assert {row.verdict for source, row in rows.items() if source != "kernel_log"} == {"none"}
    assert rows["kernel_log"].verdict == "unavailable"


def test_ground_truth_is_the_cgroup_else_the_kernel_log() -> None:
    truth = ground_truth(scripted_evidence([2.0, 1.0]))
    assert (truth.count, truth.source, truth.measured, truth.times, truth.first) == (2, "cgroup", True, (1.0, 2.0), 1.0)
    kernel_only = ground_truth(scripted_evidence([1.0], unavailable={"cgroup": "not found"}))
    assert (kernel_only.count, kernel_only.source, kernel_only.measured) == (1, "kernel_log", True)


def test_ground_truth_falls_back_to_the_source_that_saw_most() -> None:
    """A platform has neither cgroup nor kernel log: the most kills any source showed."""
    evidence = scripted_evidence(
        [], [obs("console_logs", 10.0), obs("console_logs", 70.0), obs("client", 10.1),
             obs("lifecycle_events", 9.0, "start", kill=False)],
        unavailable={"cgroup": "platform", "kernel_log": "platform", "engine_oom_event": "platform"})
    truth = ground_truth(evidence)
    assert (truth.count, truth.source, truth.measured) == (2, "estimated from console_logs", False)
    assert truth.times == (10.0, 70.0) and truth.kills == ()
    rows = _rows(evidence)
    seen = (rows["console_logs"].verdict, rows["client"].verdict, rows["client"].kills_seen)
    assert seen == ("visible", "partial", 1)
    assert rows["cgroup"].verdict == "unavailable" and rows["cgroup"].ground_truth_kills == 2


def test_ground_truth_fallback_with_nothing_seen() -> None:
    evidence = scripted_evidence([], unavailable={s.id: "platform" for s in SOURCES})
    truth = ground_truth(evidence)
    assert (truth.count, truth.source, truth.times, truth.first) == (0, "estimated from none", (), None)


def _with_memory(evidence: RunEvidence, samples: list[tuple[float, int]], one_minute: list[tuple[float, float]],
                 highwater: int | None) -> RunEvidence:
    evidence.samples = [MemorySample(t, usage, usage) for t, usage in samples]
    evidence.one_minute = one_minute
    evidence.highwater_bytes = highwater
    return evidence


def test_one_minute_average_that_shows_the_drop_but_misses_the_peak_is_partial() -> None:
    evidence = _with_memory(scripted_evidence([90.0]), [], [(60.0, 300.0 * MIB), (120.0, 30.0 * MIB)], 512 * MIB)
    row = _rows(evidence)["metric_1m_avg"]
    assert (row.kills_seen, row.verdict) == (1, "partial")
    assert row.note == "1-min peak 300.0 MB vs true 512.0 MB (59%)"


def test_one_minute_average_close_to_the_peak_is_visible_and_no_drop_is_a_gap() -> None:
    close = _with_memory(scripted_evidence([90.0]), [], [(60.0, 480.0 * MIB), (120.0, 30.0 * MIB)], 512 * MIB)
    assert _rows(close)["metric_1m_avg"].verdict == "visible"
    flat = _with_memory(scripted_evidence([90.0]), [], [(60.0, 60.0 * MIB), (120.0, 55.0 * MIB)], 512 * MIB)
    assert _rows(flat)["metric_1m_avg"].verdict == "gap"
    empty = _with_memory(scripted_evidence([90.0]), [], [], None)
    assert (_rows(empty)["metric_1m_avg"].verdict, _rows(empty)["metric_1m_avg"].note) == ("gap", "no 1-minute points")


def test_one_minute_drop_must_follow_the_minute_of_the_kill() -> None:
    # The drop is between 120 and 180 but the kill was at 90.
    evidence = _with_memory(scripted_evidence([90.0]), [],
                            [(60.0, 400.0 * MIB), (120.0, 400.0 * MIB), (180.0, 30.0 * MIB)], 420 * MIB)
    assert _rows(evidence)["metric_1m_avg"].kills_seen == 0


def test_high_resolution_series_sees_the_drop_and_is_judged_on_its_peak() -> None:
    samples = [(9.0, 400 * MIB), (9.5, 500 * MIB), (10.02, 500 * MIB), (10.1, 40 * MIB), (11.0, 45 * MIB)]
    visible = _with_memory(scripted_evidence([10.0]), samples, [], 512 * MIB)
    row = _rows(visible)["metric_highres"]
    assert (row.kills_seen, row.verdict) == (1, "visible")
    assert row.note == "1 drops at kill times, sampled peak 98% of high-water"
    missed_peak = _with_memory(scripted_evidence([10.0]), samples, [], 600 * MIB)
    assert _rows(missed_peak)["metric_highres"].verdict == "partial"
    no_drop = _with_memory(scripted_evidence([10.0]), [(9.5, 500 * MIB), (10.5, 450 * MIB)], [], 512 * MIB)
    assert _rows(no_drop)["metric_highres"].verdict == "gap"


def test_a_kill_with_no_sample_around_it_leaves_the_high_resolution_series_unavailable() -> None:
    """The sampler did not look then (starved, or the target frozen): not a miss."""
    starved = _with_memory(scripted_evidence([10.0]), [(5.0, 400 * MIB), (10.5, 40 * MIB)], [], 512 * MIB)
    row = _rows(starved)["metric_highres"]
    assert (row.verdict, row.kills_seen) == ("unavailable", None)
    assert row.note.startswith("no memory sample within 1 s before and 2 s after the kill at +")
    no_after = _with_memory(scripted_evidence([10.0]), [(9.5, 400 * MIB), (13.0, 40 * MIB)], [], 512 * MIB)
    assert _rows(no_after)["metric_highres"].verdict == "unavailable"


def test_a_pid1_kill_shows_as_the_cgroup_gone_when_the_restart_regrew_before_the_next_reading() -> None:
    """No reading between the kill and the regrown next incarnation but one that found the
    container's cgroup gone: the series saw the memory vanish."""
    regrown = [(9.5, 500 * MIB), (10.05, None), (10.9, 480 * MIB), (11.5, 500 * MIB)]
    evidence = _with_memory(scripted_evidence([10.0]), [], [], 512 * MIB)
    evidence.samples = [MemorySample(t, usage, usage) for t, usage in regrown]
    assert _rows(evidence)["metric_highres"].verdict == "visible"
    evidence.samples = [s for s in evidence.samples if s.usage_bytes is not None]
    assert _rows(evidence)["metric_highres"].verdict == "gap"


def test_true_peak_is_the_high_water_mark_else_samples_else_logged_rss() -> None:
    evidence = _with_memory(scripted_evidence([10.0]), [(1.0, 100), (2.0, 300)], [], 1000)
    assert true_peak_bytes(evidence) == 1000
    evidence.highwater_bytes = None
    assert true_peak_bytes(evidence) == 300
    evidence.samples = []
    assert true_peak_bytes(evidence) is None
    evidence.observations.append(obs("console_logs", 5.0, "progress", False, allocated_mb=16.0, rss_mb=46.5))
    evidence.observations.append(obs("console_logs", 6.0, "progress", False, allocated_mb=32.0, rss_mb=62.5))
    assert true_peak_bytes(evidence) == int(62.5 * MIB)


def test_aggregate_of_one_run_is_that_run() -> None:
    matrix = build_matrix(scripted_evidence([1.0]))
    assert aggregate([matrix]) is matrix


def test_aggregate_adds_up_and_judges_again() -> None:
    seen = build_matrix(scripted_evidence([1.0], [obs("console_logs", 1.0)]))
    missed = build_matrix(scripted_evidence([1.0]))
    rows = {row.source: row for row in aggregate([seen, missed])}
    assert (rows["cgroup"].kills_seen, rows["cgroup"].ground_truth_kills, rows["cgroup"].verdict) == (2, 2, "visible")
    assert (rows["console_logs"].kills_seen, rows["console_logs"].verdict) == (1, "partial")
    assert rows["console_logs"].note == "run 1: 1 kill lines | run 2: 0 kill lines"
    assert rows["cgroup"].note == "each run: 1 oom_kill increments"
    assert rows["lifecycle_events"].verdict == "gap"


def test_aggregate_keeps_partial_and_unavailable() -> None:
    run = scripted_evidence([90.0], unavailable={"kernel_log": "no kmsg"})
    partial = _with_memory(run, [], [(60.0, 300.0 * MIB), (120.0, 30.0 * MIB)], 512 * MIB)
    matrix = build_matrix(partial)
    rows = {row.source: row for row in aggregate([matrix, matrix])}
    assert (rows["metric_1m_avg"].kills_seen, rows["metric_1m_avg"].verdict) == (2, "partial")
    assert (rows["kernel_log"].kills_seen, rows["kernel_log"].verdict, rows["kernel_log"].note) == (
        None, "unavailable", "no kmsg")


def test_aggregate_leaves_out_a_run_where_the_source_was_unavailable() -> None:
    # A run where the source could not look neither saw nor missed its kills: one
    # unreadable run must not turn a source that saw every kill it could into "partial".
    one = build_matrix(scripted_evidence([1.0], [obs("client", 1.0)]))
    other = scripted_evidence([1.0])
    other.status["client"] = SourceStatus.unavailable("no client")
    rows = {row.source: row for row in aggregate([one, build_matrix(other)])}
    assert (rows["client"].kills_seen, rows["client"].ground_truth_kills, rows["client"].verdict) == (1, 1, "visible")
    assert rows["client"].note == "each run: 1 failed requests | unavailable in run 2: no client"
