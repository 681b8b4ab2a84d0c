"""A run's key figures, from recorded runs and from evidence built in code."""

from __future__ import annotations

from datetime import datetime

import pytest
from matrix_inputs import obs, recorded_evidence

from harness.backends.fake import scripted_evidence
from harness.evidence import ClientRequest, Kill, MemorySample
from harness.jsondata import from_data, to_data
from harness.matrix import RunFigures, figures

MIB = 2**20
GRADUAL_KILL = 1795278901.103829819  # the engine's oom event in gunicorn_gradual/events.jsonl


def _utc(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_gradual_kill_threshold_is_the_last_progress_line_before_the_kill() -> None:
    evidence = recorded_evidence("gunicorn_gradual")
    result = figures(evidence)
    assert (result.oom_kills, result.ground_truth_source) == (1, "cgroup")
    assert (result.kill_threshold_mb, result.kill_rss_mb) == (224.0, 254.8)
    assert result.killed_pids == [7]
    assert result.replacement_pids == [10]


def test_time_to_oom_runs_from_the_first_load_step() -> None:
    evidence = recorded_evidence("gunicorn_gradual")
    post_start = _utc("2026-11-21T16:34:57.596785Z")  # the [REQ] start of POST /start
    evidence.marks = [(evidence.started_at, "0:wait_healthy:"), (post_start, "1:http:start"),
                      (post_start + 0.1, "2:poll:/memory")]
    assert figures(evidence).time_to_oom_s == round(GRADUAL_KILL - post_start, 2) == 3.51
    evidence.marks = [(evidence.started_at, "0:wait_healthy:")]  # no load step: from the start
    assert figures(evidence).time_to_oom_s == round(GRADUAL_KILL - evidence.started_at, 2)


def test_spike_threshold_is_the_size_asked_for_and_rss_comes_from_the_kernel() -> None:
    result = figures(recorded_evidence("gunicorn_spike"))
    assert result.kill_threshold_mb == 400.0
    assert result.kill_rss_mb == round(252740 / 1024, 1)
    assert (result.killed_pids, result.replacement_pids) == ([7], [9])


def test_a_pid1_restart_loop_names_its_victims_from_the_kernel() -> None:
    result = figures(recorded_evidence("pid1_restart"))
    assert result.oom_kills == 3
    assert result.killed_pids == [4142, 4246, 4364]  # no console line names them
    assert result.replacement_pids == []
    assert result.exit_codes == [137, 137, 137]
    assert (result.kill_threshold_mb, result.kill_rss_mb) == (240.0, 258.8)


def test_the_supervisor_run_names_its_replacement_workers() -> None:
    result = figures(recorded_evidence("supervisor"))
    assert result.oom_kills == 2
    assert result.replacement_pids == [9]
    assert result.exit_codes == [1]


def test_no_kill_no_threshold_and_no_time_to_oom() -> None:
    result = figures(scripted_evidence([], [obs("console_logs", 1.0, "progress", False, allocated_mb=16.0)]))
    assert result == RunFigures(oom_kills=0, ground_truth_source="cgroup")


def test_without_progress_lines_the_threshold_is_unknown_but_rss_is_the_kernels() -> None:
    evidence = scripted_evidence([10.0])
    evidence.kills = [Kill(t=10.0, victim_pid=42, anon_rss_kb=256 * 1024)]
    result = figures(evidence)
    assert (result.kill_threshold_mb, result.kill_rss_mb, result.killed_pids) == (None, 256.0, [42])


def test_a_progress_line_just_after_the_kill_still_counts() -> None:
    evidence = scripted_evidence([10.0], [
        obs("console_logs", 9.0, "progress", False, allocated_mb=448.0, rss_mb=470.0),
        obs("console_logs", 10.04, "progress", False, allocated_mb=464.0, rss_mb=None),
        obs("console_logs", 10.2, "progress", False, allocated_mb=480.0, rss_mb=500.0),
    ])
    assert (figures(evidence).kill_threshold_mb, figures(evidence).kill_rss_mb) == (464.0, None)


def test_peaks_latency_client_errors_and_outages() -> None:
    evidence = scripted_evidence([10.0], [obs("health_probe", 10.5, "outage"), obs("health_probe", 30.0, "outage")])
    evidence.kills = [Kill(t=10.0, detected_at=10.0141, kernel_t=10.0)]
    evidence.highwater_bytes = 512 * MIB
    evidence.samples = [MemorySample(9.9, 502 * MIB + MIB // 2, None), MemorySample(10.1, 30 * MIB, None)]
    evidence.one_minute = [(0.0, 71.3 * MIB), (60.0, 30 * MIB)]
    evidence.requests = [
        ClientRequest(10.0, "spike", "POST", "/spike", None, "empty_reply", 120.0),
        ClientRequest(11.0, "burst", "GET", "/heavy", 503, "5xx", 5.0),
        ClientRequest(12.0, "burst", "GET", "/heavy", 503, "5xx", 5.0),
        ClientRequest(13.0, "poll", "GET", "/memory", 200, None, 5.0),
    ]
    result = figures(evidence)
    assert (result.peak_mb, result.peak_highres_mb, result.peak_1m_avg_mb) == (512.0, 502.5, 71.3)
    assert result.detection_latency_ms == [pytest.approx(14.1)]
    assert (result.client_errors, result.client_error_kinds) == (3, {"empty_reply": 1, "5xx": 2})
    assert result.health_failures == 2


def test_figures_round_trip_through_json() -> None:
    result = figures(recorded_evidence("pid1_restart"))
    # as result.json writes and reads it (harness.report.schema)
    assert from_data(RunFigures, {**to_data(result), "unknown_future_key": 1}) == result
