"""The client's error names, on errors httpx really raises against a misbehaving socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from harness.collectors.client import (
    HealthProber,
    Probe,
    classify_exception,
    classify_status,
    new_client,
    outages,
    request_observations,
    send,
)
from harness.evidence import ClientRequest

Behaviour = Callable[[socket.socket], None]


def _close_at_once(conn: socket.socket) -> None:
    conn.recv(65536)


def _cut_the_body(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nonly ten b")


def _reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def _hang(conn: socket.socket) -> None:
    conn.recv(65536)
    time.sleep(0.3)


@pytest.fixture
def server() -> Iterator[Callable[[Behaviour], str]]:
    """A one-connection TCP server on 127.0.0.1 that misbehaves as told; yields a starter."""
    sockets: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(behaviour: Behaviour) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        sockets.append(listener)

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                behaviour(conn)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for listener in sockets:
        listener.close()
    for thread in threads:
        thread.join(timeout=2)


def _error_of(url: str, timeout: float = 2.0) -> httpx.HTTPError:
    with pytest.raises(httpx.HTTPError) as caught:
        httpx.get(url, timeout=timeout)
    return caught.value


def test_a_connection_closed_before_any_reply_is_an_empty_reply(server: Callable[[Behaviour], str]) -> None:
    exc = _error_of(server(_close_at_once))
    assert str(exc) == "Server disconnected without sending a response."
    assert classify_exception(exc) == "empty_reply"


def test_a_reply_cut_off_mid_body_is_a_reset(server: Callable[[Behaviour], str]) -> None:
    exc = _error_of(server(_cut_the_body))
    assert isinstance(exc, httpx.RemoteProtocolError)
    assert "without sending complete message body" in str(exc)
    assert classify_exception(exc) == "reset"


def test_a_tcp_reset_is_a_reset(server: Callable[[Behaviour], str]) -> None:
    exc = _error_of(server(_reset))
    assert classify_exception(exc) in ("reset", "empty_reply")
    assert isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError))


def test_no_answer_in_time_is_a_timeout(server: Callable[[Behaviour], str]) -> None:
    exc = _error_of(server(_hang), timeout=0.1)
    assert isinstance(exc, httpx.ReadTimeout)
    assert classify_exception(exc) == "timeout"


def test_nothing_listening_is_connect() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    exc = _error_of(f"http://127.0.0.1:{port}")
    assert classify_exception(exc) == "connect"


@pytest.mark.parametrize(("exc", "kind"), [
    (httpx.ConnectTimeout("x"), "timeout"),
    (httpx.WriteError("x"), "reset"),
    (httpx.RemoteProtocolError("illegal status line"), "reset"),
    (httpx.UnsupportedProtocol("x"), "transport"),
])
def test_other_transport_errors(exc: httpx.HTTPError, kind: str) -> None:
    assert classify_exception(exc) == kind


@pytest.mark.parametrize(("status", "expected", "error"), [
    (200, None, None), (202, 202, None), (404, None, None), (404, 200, "unexpected_status"),
    (500, None, "5xx"), (503, 503, "5xx"), (502, 200, "5xx"),
])
def test_classify_status(status: int, expected: int | None, error: str | None) -> None:
    assert classify_status(status, expected) == error


def test_send_records_status_errors_and_the_request_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/spike":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return httpx.Response(503 if request.url.path == "/busy" else 200, json={"ok": True})

    with new_client("http://lab.test", httpx.MockTransport(handler)) as client:
        ok, response = send(client, "start", "POST", "/start", json={"mb": 1}, expect_status=200)
        busy, _ = send(client, "busy", "GET", "/busy")
        wrong, _ = send(client, "wrong", "GET", "/start", expect_status=202)
        cut, none = send(client, "spike", "POST", "/spike")
    assert (ok.status, ok.error, response is not None) == (200, None, True)
    assert (busy.status, busy.error) == (503, "5xx")
    assert (wrong.status, wrong.error) == (200, "unexpected_status")
    assert (cut.status, cut.error, none) == (None, "empty_reply", None)
    assert [r.headers["X-Request-Id"] for r in seen] == [ok.request_id, busy.request_id, wrong.request_id,
                                                         cut.request_id]
    assert all(r.latency_ms >= 0 for r in (ok, busy, wrong, cut))


def test_request_observations_only_failures_and_wrong_status_is_no_kill() -> None:
    requests = [
        ClientRequest(10.0, "s", "GET", "/a", 200, None, 5.0),
        ClientRequest(11.0, "s", "GET", "/b", None, "empty_reply", 250.0, "abc"),
        ClientRequest(12.0, "s", "GET", "/c", 404, "unexpected_status", 1.0),
    ]
    found = request_observations(requests)
    assert [(o.t, o.kill, o.detail["error"]) for o in found] == [(11.25, True, "empty_reply"),
                                                                 (12.001, False, "unexpected_status")]
    assert found[0].detail["request_id"] == "abc"


def _probes(pattern: str) -> list[Probe]:
    """``.`` is a good probe and ``x`` a failed one, half a second apart."""
    return [Probe(i * 0.5, c == ".", None if c == "." else "connect", 1.0) for i, c in enumerate(pattern)]


@pytest.mark.parametrize(("pattern", "threshold", "outage_starts"), [
    ("....", 3, []),
    (".xxx.", 3, [0.5]),
    (".xx.x.", 3, []),
    (".xx.x.", 2, [0.5]),
    ("xxxxx..", 3, []),  # failing while the target boots is no outage
    ("xxx..xxx.xxxx", 3, [2.5, 4.5]),
    (".xxx", 3, [0.5]),  # an outage still going on at the end counts
])
def test_outages(pattern: str, threshold: int, outage_starts: list[float]) -> None:
    found = outages(_probes(pattern), threshold)
    assert [o.t for o in found] == outage_starts
    assert all(o.source == "health_probe" and o.kill and o.kind == "outage" for o in found)


def test_an_outage_records_its_length() -> None:
    (outage,) = outages(_probes(".xxxx."))
    assert outage.detail == {"failures": 4, "first_error": "connect", "duration_s": 1.5}


def test_health_prober_runs_through_a_given_transport() -> None:
    answers = iter([200, 503])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers, 200))

    prober = HealthProber("http://lab.test", "/health", interval=0.01, transport=httpx.MockTransport(handler))
    prober.start()
    deadline = time.monotonic() + 2
    while len(prober.probes) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    probes = prober.stop()
    assert [(p.ok, p.error) for p in probes[:3]] == [(True, None), (False, "5xx"), (True, None)]
