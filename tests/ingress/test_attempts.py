"""Per client request: attempts, kills and the explanation they support.

The two recorded results (tests/data/results/spike-ingress*.json) come from real runs of
the shipped pair on Docker 20.10 with HAProxy 2.6; the other evidence is built here in the
same shapes to cover what those runs did not show (re-sending behind the proxy, kills with
no gunicorn line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.attempts import (
    KillingRequests,
    explain_pair,
    explain_run,
    killing_requests,
    span,
    trace_requests,
)
from harness.compare import compare, comparison_data, render_comparison
from harness.evidence import ClientRequest, Kill, Observation, RunEvidence, SourceStatus
from harness.matrix import build_matrix, figures
from harness.report.markdown import render_markdown
from harness.report.table import render_text
from harness.result import ScenarioResult, load_result
from harness.runner.expect import check_run
from harness.scenario import parse_scenario

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def retry() -> ScenarioResult:
    return load_result(RESULTS / "spike-ingress-retry.json")


@pytest.fixture(scope="module")
def off() -> ScenarioResult:
    return load_result(RESULTS / "spike-ingress.json")


def _spike_trace(result: ScenarioResult):  # type: ignore[no-untyped-def]
    (trace,) = [t for t in trace_requests(result.runs[0].evidence) if t.step == "spike"]
    return trace


# --- recorded runs ---------------------------------------------------------------------


def test_with_retries_one_request_reached_six_workers_and_killed_each(retry: ScenarioResult) -> None:
    trace = _spike_trace(retry)
    assert (trace.sent_by_proxy, trace.attempts, trace.kills) == (6, 6, 6)
    assert len(set(trace.attempt_pids)) == 6
    assert (trace.client_status, trace.proxy_status, trace.proxy_termination) == (502, 502, "SH--")
    assert trace.body is not None and "502 Bad Gateway" in trace.body
    assert trace.notable


def test_without_retries_one_request_one_attempt_one_kill(off: ScenarioResult) -> None:
    trace = _spike_trace(off)
    assert (trace.sent_by_proxy, trace.attempts, trace.kills) == (1, 1, 1)
    assert trace.client_status == 502


def test_health_polls_through_the_proxy_killed_nothing(retry: ScenarioResult) -> None:
    quiet = [t for t in trace_requests(retry.runs[0].evidence) if t.step != "spike"]
    assert all(not t.kills for t in quiet)


def test_the_run_sentence_names_the_retries(retry: ScenarioResult, off: ScenarioResult) -> None:
    on_sentence = explain_run(trace_requests(retry.runs[0].evidence))
    assert on_sentence is not None
    assert "reached the app 6 times, each attempt sent by the ingress (its first and 5 retries)" in on_sentence
    assert "6 workers were OOM-killed; the client got status 502" in on_sentence
    off_sentence = explain_run(trace_requests(off.runs[0].evidence))
    assert off_sentence is not None
    assert "reached the app once, sent once by the ingress, which did not retry" in off_sentence


def test_a_spike_with_no_ingress_is_traced_too() -> None:
    spike = load_result(RESULTS / "spike.json")
    traces = [t for t in trace_requests(spike.runs[0].evidence) if t.kills]
    assert [(t.attempts, t.kills, t.sent_by_proxy) for t in traces] == [(1, 1, None)]
    sentence = explain_run(trace_requests(spike.runs[0].evidence))
    assert sentence is not None and "with no ingress in front" in sentence


def test_the_pair_supports_the_retrying_ingress(retry: ScenarioResult, off: ScenarioResult) -> None:
    comparison = compare(off, retry)
    assert comparison.per_request_verdict is not None
    assert comparison.per_request_verdict.startswith("The data supports the retrying-ingress explanation")
    text = render_comparison(comparison)
    assert "Which explanation: The data supports the retrying-ingress explanation" in text
    row = next(line for line in text.splitlines() if line.startswith("B: spike-ingress-retry"))
    assert row.split()[-5:] == ["5", "2", "6", "6", "6"]
    data = comparison_data(comparison)["per_request"]
    assert data["a"]["kills_per_request"] == [1, 1] and data["b"]["kills_per_request"] == [6, 6]
    assert data["b"]["sent_by_ingress_per_request"] == [6, 6]
    # The order of the two results does not change the conclusion.
    assert compare(retry, off).per_request_verdict == comparison.per_request_verdict


def test_compare_without_an_ingress_has_no_per_request_section() -> None:
    spike = load_result(RESULTS / "spike.json")
    comparison = compare(spike, spike)
    assert comparison.per_request is None
    assert "Which explanation" not in render_comparison(comparison)
    assert "per_request" not in comparison_data(comparison)


def test_reports_show_the_per_request_table(retry: ScenarioResult) -> None:
    text = render_text(retry)
    assert "Per client request" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("1  spike"))
    assert row.split()[3:6] == ["6", "6", "6"]
    assert "retried 5" in row
    markdown = render_markdown(retry)
    assert "## Per client request" in markdown and "| spike" in markdown
    assert retry.to_json()["runs"][0]["per_request"][0]["attempts"] == 6


# --- built evidence --------------------------------------------------------------------


def _console(t: float, kind: str, **detail: object) -> Observation:
    return Observation("console_logs", T0 + t, kind, kind == "sigkill_line", detail)


def _evidence(observations: list[Observation], requests: list[ClientRequest], kills: list[float]) -> RunEvidence:
    return RunEvidence(
        run=1, backend="docker", started_at=T0, ended_at=T0 + 30, memory_limit_bytes=512 * 2**20,
        observations=sorted(observations, key=lambda o: o.t), kills=[Kill(T0 + t) for t in kills],
        status={"cgroup": SourceStatus.ok()}, requests=requests,
    )


def _request(request_id: str, status: int | None = 502, error: str | None = "5xx") -> ClientRequest:
    return ClientRequest(T0 + 1, "spike", "POST", "/spike", status, error, 5000.0, request_id)


def _proxy(request_id: str, retries: int) -> Observation:
    return Observation("ingress", T0 + 6, "request", False,
                       {"request_id": request_id, "status": 502, "retries": retries, "termination": "SH--"})


def _resent_behind_the_proxy() -> RunEvidence:
    """One request, no proxy retry, yet three arrivals at three workers, each killed."""
    observations = [_proxy("r1", 0)]
    for i, pid in enumerate((7, 9, 11)):
        observations += [_console(1 + 2 * i, "request_start", id="r1", pid=pid),
                         _console(2 + 2 * i, "sigkill_line", pid=pid)]
    return _evidence(observations, [_request("r1")], kills=[1.9, 3.9, 5.9])


def test_arrivals_beyond_what_the_proxy_sent_mean_re_sending_behind_it() -> None:
    evidence = _resent_behind_the_proxy()
    (trace,) = trace_requests(evidence)
    assert (trace.sent_by_proxy, trace.attempts, trace.kills) == (1, 3, 3)
    sentence = explain_run([trace])
    assert sentence is not None and "the ingress sent it only once: it was re-sent behind the ingress" in sentence
    off = KillingRequests("requeue-off", 0, [trace])
    on = KillingRequests("requeue-on", 5, [trace])
    assert explain_pair(on, off).startswith("The data supports re-sending behind the ingress")


def test_an_attempt_answered_before_its_worker_died_was_not_killed_by_it() -> None:
    observations = [
        _console(1, "request_start", id="ok", pid=7), _console(1.5, "request_end", id="ok", pid=7),
        _console(2, "request_start", id="big", pid=7), _console(3, "sigkill_line", pid=7),
    ]
    evidence = _evidence(observations, [_request("ok", 200, None), _request("big")], kills=[2.9])
    by_id = {t.request_id: t for t in trace_requests(evidence)}
    assert by_id["ok"].kills == 0 and not by_id["ok"].notable
    assert by_id["big"].kills == 1


def test_without_gunicorn_lines_kills_go_to_the_latest_open_attempt() -> None:
    # The lab supervisor logs exit codes, not PIDs: time decides.
    observations = [_console(1, "request_start", id="a", pid=5), _console(4, "request_start", id="b", pid=6),
                    _console(5, "supervisor_exit", code=137)]
    evidence = _evidence(observations, [_request("a"), _request("b")], kills=[4.5])
    by_id = {t.request_id: t for t in trace_requests(evidence)}
    assert (by_id["a"].kills, by_id["b"].kills) == (0, 1)


def test_an_app_that_logs_no_request_ids_gives_unknown_attempts() -> None:
    evidence = _evidence([_proxy("x", 2)], [_request("x")], kills=[2.0])
    (trace,) = trace_requests(evidence)
    assert trace.attempts is None and trace.kills is None and trace.sent_by_proxy == 3


def test_pairs_that_cannot_separate_the_explanations_say_so() -> None:
    (trace,) = trace_requests(_resent_behind_the_proxy())
    same = explain_pair(KillingRequests("a", 5, [trace]), KillingRequests("b", 5, [trace]))
    assert same.startswith("Both sides retry alike")
    empty = explain_pair(KillingRequests("a", 5, [trace]), KillingRequests("b", 0, []))
    assert empty.startswith("No request caused a kill on one side")


def test_killing_requests_reads_the_ingress_settings() -> None:
    evidence = _resent_behind_the_proxy()
    assert killing_requests("s", {"ingress": {"retries": 3}}, [evidence]).retries == 3
    assert killing_requests("s", {}, [evidence]).retries is None
    assert span([]) == "-" and span([6, 6]) == "6" and span([5, 6, 6]) == "5-6"


def test_per_request_expectations_are_checked_request_by_request() -> None:
    scenario = parse_scenario({
        "target": {}, "limits": {"memory": "512m"},
        "steps": [{"http": {"name": "spike", "method": "POST", "path": "/spike"}}],
        "expect": {"per_request": {"spike": {"attempts": 1, "kills": {"min": 1, "max": 1}}}},
    }, "s.yaml")
    evidence = _resent_behind_the_proxy()
    failures = check_run(1, scenario.expect, figures(evidence), build_matrix(evidence), trace_requests(evidence))
    assert failures == [
        "run 1: step spike, request r1: expected exactly 1 attempts per request, saw 3",
        "run 1: step spike, request r1: expected exactly 1 kills per request, saw 3",
    ]
    none_sent = check_run(1, scenario.expect, figures(evidence), build_matrix(evidence), [])
    assert none_sent == ["run 1: step spike sent no request to judge per_request by"]
    no_ids = _evidence([], [_request("x")], kills=[])
    unknown = check_run(1, scenario.expect, figures(no_ids), build_matrix(no_ids), trace_requests(no_ids))
    assert unknown[0] == "run 1: step spike, request x: attempts unavailable (the app logs no request ids)"
