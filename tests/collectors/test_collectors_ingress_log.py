"""The ingress proxy's access log, as HAProxy 2.6 wrote it in a real run (tests/data/recorded/ingress_retry)."""

from __future__ import annotations

from recorded_inputs import Recorded

from harness.collectors import console_logs
from harness.collectors.ingress_log import parse_line, parse_logs


def test_the_recorded_proxy_log_gives_one_observation_per_request(recorded: Recorded) -> None:
    found = parse_logs(recorded.text("ingress_retry", "proxy.log"))
    assert [o.detail["path"] for o in found] == ["/health", "/health", "/spike"]
    assert all(o.source == "ingress" and o.kind == "request" and not o.kill for o in found)
    spike = found[-1].detail
    assert spike["request_id"] == "recorded0001"
    assert (spike["method"], spike["status"], spike["retries"], spike["termination"]) == ("POST", 502, 5, "SH--")
    # Tr=-1: no response ever came; -1 is "never", not a time.
    assert spike["response_ms"] is None
    assert spike["total_ms"] == 9403 and spike["bytes"] == 209


def test_a_request_without_an_id_and_a_connection_retry(recorded: Recorded) -> None:
    first = parse_logs(recorded.text("ingress_retry", "proxy.log"))[0].detail
    assert first["request_id"] is None
    assert first["retries"] == 1 and first["status"] == 200 and first["connect_ms"] == 1003


def test_other_lines_and_redispatch_marks() -> None:
    assert parse_line("[NOTICE]   (1) : New worker (8) forked", 1.0) is None
    redispatched = parse_line("[INGRESS] id=ab method=GET path=/ status=200 retries=+2 term=---- "
                              "Tc=0 Tr=3 Ta=3 bytes=10", 1.0)
    assert redispatched is not None and redispatched.detail["retries"] == 2


def test_the_app_logged_every_arrival_of_the_retried_request(recorded: Recorded) -> None:
    found = console_logs.parse_logs(recorded.logs("ingress_retry"))
    arrivals = [o.detail["pid"] for o in found if o.kind == "request_start" and o.detail["id"] == "recorded0001"]
    killed = [o.detail["pid"] for o in found if o.kind == "sigkill_line"]
    assert arrivals == killed == [8, 10, 12, 14, 16, 18]
