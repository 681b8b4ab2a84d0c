"""Console kill lines judged against the ground truth: visible, misleading (kills claimed
that did not happen), or not judged where there is no ground truth; on recorded runs of
each app server and on small built cases."""

from __future__ import annotations

import pytest
from matrix_inputs import obs, recorded_evidence

from harness.attempts import trace_requests
from harness.backends.fake import scripted_evidence
from harness.evidence import ClientRequest, Kill
from harness.jsondata import from_data, to_data
from harness.matrix import MatrixRow, aggregate, build_matrix, figures
from harness.matrix.build import verdict
from harness.matrix.claims import nearest_lines, pair_kill_lines, trim_other_lines


def _console(evidence: object) -> MatrixRow:
    return next(row for row in build_matrix(evidence) if row.source == "console_logs")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["uwsgi_gradual", "uvicorn_gradual", "gunicorn20_gradual"])
def test_each_servers_recorded_oom_kill_is_visible_in_the_console(name: str) -> None:
    row = _console(recorded_evidence(name))
    assert (row.kills_seen, row.ground_truth_kills, row.verdict, row.false_claims) == (1, 1, "visible", 0)


@pytest.mark.parametrize(("name", "pid"), [("gunicorn_timeout", 6), ("uwsgi_harakiri", 7)])
def test_a_servers_own_timeout_kill_is_misleading_never_visible(name: str, pid: int) -> None:
    evidence = recorded_evidence(name)
    row = _console(evidence)
    assert (row.kills_seen, row.ground_truth_kills, row.verdict, row.false_claims) == (0, 0, "misleading", 1)
    assert row.note == "1 kill lines, 1 without an OOM kill (kills claimed that did not happen)"
    claims = pair_kill_lines(evidence)
    assert [line.detail["pid"] for line in claims.false_claims] == [pid]
    assert figures(evidence).killed_pids == []  # a false claim names no killed worker
    assert {r.source: r.verdict for r in build_matrix(evidence)}["cgroup"] == "none"


def test_the_misleading_verdict_wins_over_every_other() -> None:
    assert verdict(2, 2, false_claims=1) == "misleading"
    assert verdict(0, 0, false_claims=3) == "misleading"
    assert verdict(0, 0) == "none"


def test_lines_are_paired_with_kills_by_time() -> None:
    # A false line long before the real kill; the real kill's line 30 ms after it.
    evidence = scripted_evidence([14.7], [obs("console_logs", 5.0, "sigkill_line", pid=7),
                                          obs("console_logs", 14.73, "sigkill_line", pid=8)])
    claims = pair_kill_lines(evidence)
    assert [(kill.t, line.t) for kill, line in claims.matched] == [(14.7, 14.73)]
    assert [line.t for line in claims.false_claims] == [5.0]
    assert claims.unexplained == ()
    row = _console(evidence)
    assert (row.kills_seen, row.ground_truth_kills, row.verdict, row.false_claims) == (1, 1, "misleading", 1)
    assert figures(evidence).killed_pids == [8]


def test_a_kill_no_line_reported_is_unexplained_and_a_line_far_from_it_false() -> None:
    evidence = scripted_evidence([10.0, 40.0], [obs("console_logs", 40.05)])
    claims = pair_kill_lines(evidence)
    assert [k.t for k in claims.unexplained] == [10.0] and not claims.false_claims
    assert _console(evidence).verdict == "partial"
    late = scripted_evidence([10.0], [obs("console_logs", 25.0)])
    assert _console(late).verdict == "misleading"


def test_rapid_kills_each_get_their_own_line() -> None:
    kills = [2.1, 3.7, 5.3, 7.0]
    evidence = scripted_evidence(kills, [obs("console_logs", t + 0.03) for t in kills])
    assert [(k.t, round(line.t - k.t, 2)) for k, line in pair_kill_lines(evidence).matched] == \
        [(t, 0.03) for t in kills]
    assert _console(evidence).verdict == "visible"


def test_group_members_are_not_kills_of_their_own() -> None:
    evidence = scripted_evidence([10.0], [obs("console_logs", 10.1)])
    evidence.kills.append(Kill(t=10.0, group_member=True))
    assert _console(evidence).verdict == "visible"


def test_without_a_ground_truth_no_line_is_judged() -> None:
    evidence = scripted_evidence([], [obs("console_logs", 5.0), obs("console_logs", 9.0)],
                                 unavailable={"cgroup": "not on Azure", "kernel_log": "not on Azure"})
    claims = pair_kill_lines(evidence)
    assert not claims.judged and len(claims.true_lines) == 2 and not claims.false_claims
    row = _console(evidence)
    assert (row.kills_seen, row.verdict, row.false_claims) == (2, "visible", 0)


def test_an_unreadable_console_is_unavailable_not_misleading() -> None:
    evidence = scripted_evidence([], [obs("console_logs", 5.0)], unavailable={"console_logs": "logs not readable"})
    row = _console(evidence)
    assert (row.verdict, row.kills_seen, row.note) == ("unavailable", None, "logs not readable")


def test_the_aggregate_adds_false_claims_and_stays_misleading() -> None:
    honest = build_matrix(scripted_evidence([10.0], [obs("console_logs", 10.1)]))
    lying = build_matrix(scripted_evidence([], [obs("console_logs", 10.1)]))
    row = next(r for r in aggregate([honest, lying]) if r.source == "console_logs")
    assert (row.kills_seen, row.ground_truth_kills, row.verdict, row.false_claims) == (1, 1, "misleading", 1)


def test_the_row_reads_back_with_its_false_claims() -> None:
    row = _console(recorded_evidence("gunicorn_timeout"))
    data = to_data(row)  # as result.json writes and reads it (harness.report.schema)
    assert data["false_claims"] == 1 and from_data(MatrixRow, data) == row
    del data["false_claims"]  # a result written before the field existed
    assert from_data(MatrixRow, data).false_claims == 0


def test_nearest_lines_and_trimming_keep_the_context_of_unexplained_kills_only() -> None:
    lines = [obs("console_logs", float(t), "line", kill=False, line=f"line {t}") for t in range(0, 40, 2)]
    evidence = scripted_evidence([10.0, 30.0], [*lines, obs("console_logs", 30.02, line="killed")])
    near = nearest_lines(evidence, 10.0, count=3)
    assert [o.detail["line"] for o in near] == ["line 8", "line 10", "line 12"]
    kept = trim_other_lines(evidence, "line")
    kept_lines = sorted(o.detail["line"] for o in kept if o.kind == "line")
    assert kept_lines == ["line 10", "line 12", "line 14", "line 6", "line 8"]
    assert any(o.source == "cgroup" for o in kept) and any(o.kill and o.source == "console_logs" for o in kept)


def test_a_false_claim_kills_no_request_in_the_trace() -> None:
    evidence = recorded_evidence("gunicorn_timeout")
    start = next(o for o in evidence.of("console_logs") if o.kind == "request_start" and o.detail["path"] == "/block")
    evidence.requests = [ClientRequest(start.t - 0.01, "block", "POST", "/block", None, "empty_reply", 4000.0,
                                       str(start.detail["id"]))]
    (trace,) = trace_requests(evidence)
    assert (trace.attempts, trace.kills, trace.client_error) == (1, 0, "empty_reply")
