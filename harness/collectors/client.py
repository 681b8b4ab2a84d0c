"""The client: each request's outcome and a health prober running through the whole run.

Errors are classified the way a user would describe them: ``empty_reply`` (the server
closed the connection without answering, what curl calls "Empty reply from server"),
``reset`` (connection reset mid-request), ``timeout``, ``connect`` (nothing listening),
``5xx``. A failed request is the client's evidence that something was killed.

Like curl and like a platform's probes, every request opens a fresh connection: a pooled
keep-alive connection to a worker that was since killed would fail in a way no real
client of the seed's lab saw. A probe outage is ``failure_threshold`` consecutive failed
probes (3, the Kubernetes and Container Apps default), so a single probe that was in
flight at the instant of a kill is recorded but is not an outage.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx

from harness.collectors.base import CollectorThread, ThreadedCollector
from harness.evidence import ClientRequest, Observation, SourceStatus

CLIENT = "client"
HEALTH = "health_probe"


def classify_exception(exc: httpx.HTTPError) -> str:
    """Name a transport error as a user would."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    # httpcore's "Server disconnected without sending a response."; h11's "peer closed
    # connection without sending complete message body" is a cut-off reply, a reset.
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" in str(exc):
        return "empty_reply"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
        return "reset"
    return "transport"


def classify_status(status: int, expected: int | None) -> str | None:
    """A 5xx is an error; so is any status other than the one a step expects."""
    if status >= 500:
        return "5xx"
    if expected is not None and status != expected:
        return "unexpected_status"
    return None


FAILURE_THRESHOLD = 3
BODY_CHARS = 300


def new_client(base_url: str, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An HTTP client that opens a new connection for every request."""
    return httpx.Client(base_url=base_url, transport=transport,
                        limits=httpx.Limits(max_keepalive_connections=0))


def send(
    client: httpx.Client, step: str, method: str, path: str, json: object = None,
    timeout: float = 30.0, expect_status: int | None = None,
) -> tuple[ClientRequest, httpx.Response | None]:
    """Send one request and record its outcome; never raises for transport errors."""
    request_id = uuid.uuid4().hex[:12]
    started, t0 = time.time(), time.perf_counter()
    try:
        response = client.request(method, path, json=json, timeout=timeout, headers={"X-Request-Id": request_id})
    except httpx.HTTPError as exc:
        latency = (time.perf_counter() - t0) * 1000
        return ClientRequest(started, step, method, path, None, classify_exception(exc), latency, request_id), None
    latency = (time.perf_counter() - t0) * 1000
    error = classify_status(response.status_code, expect_status)
    body = response.text[:BODY_CHARS] if response.status_code >= 400 else None
    return ClientRequest(started, step, method, path, response.status_code, error, latency, request_id, body), response


def request_observations(requests: list[ClientRequest]) -> list[Observation]:
    """Client observations: one kill-evidence observation per failed request."""
    return [
        Observation(CLIENT, r.t + r.latency_ms / 1000, "error", r.error != "unexpected_status",
                    {"step": r.step, "path": r.path, "error": r.error, "status": r.status,
                     "latency_ms": round(r.latency_ms, 1), "request_id": r.request_id})
        for r in requests if r.error
    ]


@dataclass(frozen=True)
class Probe:
    t: float
    ok: bool
    error: str | None
    latency_ms: float


def failures_before_first_answer(probes: list[Probe]) -> int:
    """Failed probes before the target first answered (its boot): no outage, but counted."""
    return next((i for i, p in enumerate(probes) if p.ok), len(probes))


def outages(probes: list[Probe], threshold: int = FAILURE_THRESHOLD) -> list[Observation]:
    """Each run of at least ``threshold`` consecutive failed probes after the target
    first answered is one outage (failures while it boots are not outages)."""
    first_ok = next((i for i, p in enumerate(probes) if p.ok), len(probes))
    found: list[Observation] = []
    run: list[Probe] = []
    for probe in probes[first_ok:] + [Probe(float("inf"), True, None, 0.0)]:
        if not probe.ok:
            run.append(probe)
            continue
        if len(run) >= threshold:
            found.append(Observation(HEALTH, run[0].t, "outage", True,
                                     {"failures": len(run), "first_error": run[0].error,
                                      "duration_s": round(run[-1].t - run[0].t, 3)}))
        run = []
    return found


class HealthProber(ThreadedCollector[Probe]):
    """GETs the health path every ``interval`` seconds in a thread, from start to stop.

    A probe that fails is a finding (kept with its error kind); a prober whose thread
    failed is unavailable, naming what failed.
    """

    what = "the health probe"

    def __init__(
        self, base_url: str, path: str, interval: float = 0.5, timeout: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # A probe in flight ends by its own time-out: stop waits for it.
        super().__init__(CollectorThread.periodic("health-probe", interval, self._probe, join_timeout=timeout + 2))
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self._client = new_client(base_url, transport)
        self._closed = False

    @property
    def probes(self) -> list[Probe]:
        """The probes so far (a copy)."""
        return self.snapshot()

    def stop(self) -> list[Probe]:
        """Stop probing and close the client; the probes (the runner reads them so)."""
        self.thread.stop()
        with self._lock:
            close, self._closed = not self._closed, True
        if close:
            self._client.close()
        return self.snapshot()

    def _own_status(self) -> SourceStatus:
        """Unavailable when no probe was sent, or when the target never answered one: a
        probe that never saw the target up cannot tell an outage from a boot."""
        probes = self.snapshot()
        if not probes:
            return SourceStatus.unavailable("no health probe was sent (the run ended first)")
        if not any(p.ok for p in probes):
            first = next((p.error for p in probes if p.error), "no answer")
            return SourceStatus.unavailable(f"never healthy: none of {len(probes)} probes was answered "
                                            f"(first error: {first})")
        return SourceStatus.ok()

    def _probe(self) -> None:
        t, t0 = time.time(), time.perf_counter()
        try:
            response = self._client.get(self.path, timeout=self.timeout)
            ok, error = response.status_code < 500, classify_status(response.status_code, None)
        except httpx.HTTPError as exc:
            ok, error = False, classify_exception(exc)
        self._add([Probe(t, ok, error, (time.perf_counter() - t0) * 1000)])
