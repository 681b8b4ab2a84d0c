"""The runner's step logic on the fake backend: no Docker, HTTP through httpx.MockTransport."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from harness.backends.base import LiveStatus
from harness.backends.fake import IDLE, FakeBackend, FakeScript, kills_after, scripted_evidence
from harness.errors import EngineLost, ScenarioError
from harness.evidence import Observation
from harness.result import ScenarioResult
from harness.runner import run_scenario
from harness.scenario import Scenario, parse_scenario

Handler = Callable[[httpx.Request], httpx.Response]


class Lab:
    """A MockTransport handler that records every request and answers per path."""

    def __init__(self, answers: dict[str, Handler] | None = None) -> None:
        self.answers = answers or {}
        self.requests: list[tuple[str, str]] = []
        self.health = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if request.url.path == "/health":
                self.health += 1
            else:
                self.requests.append((request.method, request.url.path))
        answer = self.answers.get(request.url.path)
        return answer(request) if answer else httpx.Response(200, json={"ok": True})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _scenario(steps: list[Any], expect: dict[str, Any] | None = None, **settings: Any) -> Scenario:
    data = {"target": {"image": "labapp"}, "limits": {"memory": "512m"}, "settle": 0, "steps": steps,
            "expect": expect or {}, **settings}
    return parse_scenario(data, "test.yaml")


def _run(scenario: Scenario, backend: FakeBackend, lab: Lab) -> ScenarioResult:
    return run_scenario(scenario, backend, show_progress=False, transport=lab.transport)


def _killed_evidence(kill_at: float = 10.0) -> FakeScript:
    """A run whose worker is killed at ``kill_at``: the console log and the engine's oom event see it."""
    return FakeScript(live=kills_after(2), evidence=scripted_evidence([kill_at], [
        Observation("console_logs", kill_at + 0.01, "sigkill_line", True, {"pid": 7}),
        Observation("engine_oom_event", kill_at, "oom", True, {}),
    ]))


def test_steps_run_in_order_and_each_leaves_a_mark() -> None:
    lab = Lab()
    scenario = _scenario([
        "wait_healthy",
        {"http": {"name": "start", "method": "POST", "path": "/start", "json": {"mb": 16}, "expect_status": 200}},
        {"poll": {"path": "/memory", "every": "10ms", "timeout": "5s", "until": {"kills": 1}}},
        {"sleep": "10ms"},
        {"http": {"path": "/reset", "method": "POST"}},
    ])
    result = _run(scenario, FakeBackend(_killed_evidence()), lab)
    assert result.passed, result.failures
    assert lab.requests == [("POST", "/start"), ("GET", "/memory"), ("GET", "/memory"), ("GET", "/memory"),
                            ("POST", "/reset")]
    evidence = result.runs[0].evidence
    assert [label for _, label in evidence.marks] == ["0:wait_healthy:", "1:http:start", "2:poll:/memory",
                                                      "3:sleep:", "4:http:/reset"]
    assert [t for t, _ in evidence.marks] == sorted(t for t, _ in evidence.marks)
    assert [(r.step, r.status, r.error) for r in evidence.requests][:2] == [("start", 200, None),
                                                                            ("poll /memory", 200, None)]


def test_poll_stops_as_soon_as_the_kill_is_counted() -> None:
    lab = Lab()
    backend = FakeBackend(FakeScript(live=kills_after(5)))
    scenario = _scenario([{"poll": {"path": "/memory", "every": "1ms", "timeout": "5s", "until": {"kills": 1}}}])
    _run(scenario, backend, lab)
    assert lab.requests == [("GET", "/memory")] * 6
    assert backend.sessions[0].live_calls == 6


def test_poll_until_a_json_field_changes() -> None:
    pids = iter([7, 7, 7, 9])
    lab = Lab({"/memory": lambda request: httpx.Response(200, json={"pid": next(pids, 9)})})
    scenario = _scenario([{"poll": {"path": "/memory", "every": "1ms", "timeout": "5s",
                                    "until": {"json_field": "pid", "changed": True}}}])
    assert _run(scenario, FakeBackend(), lab).passed
    assert len(lab.requests) == 4


def test_a_wait_that_times_out_is_a_failure_and_the_evidence_is_kept() -> None:
    lab = Lab()
    backend = FakeBackend(FakeScript(live=[IDLE]))
    scenario = _scenario([
        {"http": {"path": "/spike", "method": "POST"}},
        {"wait": {"until": {"kills": 1}, "timeout": "0.1s", "every": "10ms"}},
        {"http": {"path": "/never", "method": "POST"}},
    ])
    started = time.monotonic()
    result = _run(scenario, backend, lab)
    assert time.monotonic() - started < 2
    assert result.failures == ["run 1: kills >= 1 did not happen within 0.1s"]
    assert not result.passed
    evidence = result.runs[0].evidence
    assert evidence.backend == "fake"
    assert [label for _, label in evidence.marks] == ["0:http:/spike", "1:wait:"]
    assert lab.requests == [("POST", "/spike")]
    assert backend.active == 0 and backend.sessions[0].finished


def test_the_run_timeout_bounds_every_wait() -> None:
    scenario = _scenario([{"wait": {"until": {"kills": 1}, "timeout": "60s", "every": "10ms"}}], run_timeout="0.2s")
    result = _run(scenario, FakeBackend(), Lab())
    assert result.failures == ["run 1: kills >= 1 did not happen within the run's time limit"]


def test_wait_exit_waits_for_the_exit() -> None:
    exited = LiveStatus(kills=1, memory_mb=None, allocated_mb=None, exited=True)
    backend = FakeBackend(FakeScript(live=[IDLE, IDLE, exited]))
    assert _run(_scenario([{"wait_exit": {"timeout": "5s"}}]), backend, Lab()).passed
    assert backend.sessions[0].live_calls == 3


def test_an_engine_lost_mid_run_voids_the_run_at_once() -> None:
    """The engine crashed or restarted: what it did to the target is unknown, so the run
    stops at the next look instead of waiting out its bound, and nothing is judged."""
    lost = LiveStatus(kills=0, memory_mb=None, allocated_mb=None, exited=False,
                      engine_lost="the engine's event stream ended before the run did")
    backend = FakeBackend(FakeScript(live=[IDLE, lost]))
    scenario = _scenario([{"wait": {"until": {"kills": 1}, "timeout": "60s", "every": "10ms"}}])
    started = time.monotonic()
    with pytest.raises(EngineLost) as caught:
        _run(scenario, backend, Lab())
    assert time.monotonic() - started < 5
    assert str(caught.value).startswith("run 1: lost the engine during the run (the engine's event stream ended")
    assert caught.value.exit_code == 2
    assert backend.active == 0  # the target was still cleaned up


def test_expectations_pass_on_the_scripted_evidence() -> None:
    expect = {"kills": {"min": 1}, "client_errors": 0,
              "sources": {"cgroup": "visible", "console_logs": "visible", "engine_oom_event": "visible",
                          "lifecycle_events": "gap", "restart_count": "gap",
                          "client": "unavailable"}}  # wait_healthy sends the client no request
    result = _run(_scenario(["wait_healthy"], expect), FakeBackend(_killed_evidence()), Lab())
    assert result.passed, result.failures
    assert result.source("console_logs").kills_seen == 1


def test_the_expectations_are_judged_where_the_engine_runs() -> None:
    # The guest's job passes its host facts: an `emulated` condition holds there, and the
    # result records them with the engine.
    expect = {"sources": {"engine_oom_event": "gap"},
              "on_engine": {"emulated": {"sources": {"engine_oom_event": "visible"}}}}
    scenario = _scenario(["wait_healthy"], expect)
    here = _run(scenario, FakeBackend(_killed_evidence()), Lab())
    assert here.failures == ["run 1: engine_oom_event was visible (1/1), expected gap"]
    guest = run_scenario(scenario, FakeBackend(_killed_evidence()), show_progress=False, transport=Lab().transport,
                         host={"kind": "qemu guest", "accel": "tcg"})
    assert guest.passed, guest.failures
    assert guest.engine["host"] == {"kind": "qemu guest", "accel": "tcg"}


def test_expectations_fail_with_one_line_each() -> None:
    expect = {"kills": 2, "client_errors": {"min": 1}, "sources": {"lifecycle_events": ["visible", "partial"]}}
    result = _run(_scenario(["wait_healthy"], expect), FakeBackend(_killed_evidence()), Lab())
    assert result.failures == [
        "run 1: expected exactly 2 OOM kills, saw 1",
        "run 1: expected at least 1 client errors, saw 0",
        "run 1: lifecycle_events was gap (0/1), expected visible or partial",
    ]


def test_every_repeat_gets_its_own_session_and_evidence() -> None:
    backend = FakeBackend(_killed_evidence())
    result = _run(_scenario(["wait_healthy"], repeat=3), backend, Lab())
    assert [s.run for s in backend.sessions] == [1, 2, 3]
    assert [r.evidence.run for r in result.runs] == [1, 2, 3]
    assert all(len(r.evidence.requests) == 0 for r in result.runs)
    assert result.source("cgroup").ground_truth_kills == 3
    assert result.engine == {"name": "fake", "version": "0", "cgroup_version": "n/a"}
    assert result.settings["repeat"] == 3


def test_a_burst_sends_count_requests_at_most_concurrency_at_a_time() -> None:
    in_flight, most = 0, 0
    lock = threading.Lock()

    def heavy(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.03)
        with lock:
            in_flight -= 1
        return httpx.Response(200)

    lab = Lab({"/heavy": heavy})
    scenario = _scenario([{"burst": {"path": "/heavy", "count": 12, "concurrency": 3}}])
    result = _run(scenario, FakeBackend(), lab)
    requests = result.runs[0].evidence.requests
    assert len(requests) == 12 and {r.step for r in requests} == {"burst /heavy"}
    assert lab.requests == [("GET", "/heavy")] * 12
    assert most == 3


def test_a_burst_with_a_rate_starts_its_requests_that_far_apart() -> None:
    starts: list[float] = []
    lab = Lab({"/leak": lambda request: (starts.append(time.monotonic()), httpx.Response(200))[1]})
    scenario = _scenario([{"burst": {"path": "/leak", "method": "POST", "count": 5, "concurrency": 1, "rate": 20}}])
    result = _run(scenario, FakeBackend(), lab)
    assert len(result.runs[0].evidence.requests) == 5
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.04 and starts[-1] - starts[0] >= 0.19


def test_a_burst_rate_must_be_positive() -> None:
    with pytest.raises(ScenarioError, match=r"steps\[0\]\.burst\.rate: must be more than 0\.0, got 0"):
        _scenario([{"burst": {"path": "/leak", "count": 5, "concurrency": 1, "rate": 0}}])


def test_client_errors_are_classified_and_counted_as_kill_evidence() -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)

    lab = Lab({"/spike": cut, "/reset-me": reset, "/busy": lambda request: httpx.Response(503),
               "/start": lambda request: httpx.Response(409)})
    scenario = _scenario([
        {"http": {"path": "/start", "method": "POST", "expect_status": 202}},
        {"http": {"name": "spike", "path": "/spike", "method": "POST", "json": {"mb": 500}}},
        {"http": {"path": "/reset-me"}},
        {"burst": {"path": "/busy", "count": 2, "concurrency": 2}},
    ], expect={"client_errors": {"min": 1}})
    backend = FakeBackend(FakeScript(evidence=scripted_evidence([10.0, 20.0])))
    result = _run(scenario, backend, lab)
    assert result.passed, result.failures
    run = result.runs[0]
    assert [(r.step, r.status, r.error) for r in run.evidence.requests] == [
        ("/start", 409, "unexpected_status"), ("spike", None, "empty_reply"), ("/reset-me", None, "reset"),
        ("burst /busy", 503, "5xx"), ("burst /busy", 503, "5xx")]
    assert run.figures.client_error_kinds == {"unexpected_status": 1, "empty_reply": 1, "reset": 1, "5xx": 2}
    # A wrong status is no kill evidence; the others are, capped at the two kills.
    assert sum(o.kill for o in run.evidence.of("client")) == 4
    assert (run.source("client").kills_seen, run.source("client").verdict) == (2, "visible")


def test_the_health_probe_goes_through_the_transport_too() -> None:
    lab = Lab()
    result = _run(_scenario([{"sleep": "50ms"}]), FakeBackend(), lab)
    evidence = result.runs[0].evidence
    assert lab.health >= 1 and evidence.health_probes == lab.health
    assert evidence.health_probe_failures == 0
    facts = result.to_json()["runs"][0]["evidence"]["facts"]  # where result.json keeps them
    assert (facts["health_probes"], facts["health_probe_failures"]) == (lab.health, 0)
    assert result.runs[0].evidence.status["health_probe"].available


@pytest.mark.parametrize("status", [503, 404])
def test_wait_healthy_times_out_on_an_unhealthy_target(status: int) -> None:
    lab = Lab({"/health": lambda request: httpx.Response(status)})
    result = _run(_scenario([{"wait_healthy": {"timeout": "0.1s", "interval": "10ms"}}]), FakeBackend(), lab)
    assert result.failures == ["run 1: healthy answer from /health did not happen within 0.1s"]


def test_a_run_that_sent_no_request_leaves_the_client_unavailable_not_a_gap() -> None:
    result = _run(_scenario([{"sleep": "0.05s"}]), FakeBackend(_killed_evidence()), Lab())
    client = result.source("client")
    assert (client.verdict, client.note) == ("unavailable", "no request was sent (the scenario's steps send none)")
    sent = _run(_scenario([{"http": {"path": "/start"}}]), FakeBackend(_killed_evidence()), Lab())
    assert sent.source("client").verdict == "gap"


def test_a_burst_records_the_requests_still_in_flight_when_its_time_is_up() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.8)  # longer than the step's bound and the request's time-out together
        return httpx.Response(200)

    lab = Lab({"/slow": slow})
    scenario = _scenario([{"burst": {"path": "/slow", "count": 2, "concurrency": 2, "timeout": "0.2s",
                                     "total_timeout": "0.3s"}}])
    result = _run(scenario, FakeBackend(), lab)
    assert lab.requests == [("GET", "/slow")] * 2
    assert len(result.runs[0].evidence.requests) == 2  # sent, so recorded: never dropped
