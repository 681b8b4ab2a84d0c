"""Per client request: how many attempts reached the app, what the client was answered,
and how many OOM kills those attempts caused.

This is the evidence that settles "why did one request kill six workers" (reference lab
000, spike variant). The client stamps every request with an ``X-Request-Id``; an ingress
forwards it untouched, and the lab app logs ``[REQ] start id=<id> ... pid=<worker>`` on
every arrival. So the arrivals of one id are the attempts that reached the app, whoever
sent them: the ingress retrying, or something behind it re-queuing the request. The
ingress's own log says how often it retried; the difference between the two counts is
what the proxy did not send.

An attempt *ended in a kill* when the worker serving it was OOM-killed while the attempt
was in flight (no ``[REQ] end`` for it first). Workers are matched by PID through the
console's kill lines that reported a real OOM kill (gunicorn's ``Worker (pid:N) was sent
SIGKILL!``, uWSGI's and uvicorn's own; a line claiming a kill that did not happen, such as
gunicorn's after a WORKER TIMEOUT, kills no attempt); where no such line exists (a plain
process, the lab supervisor) each ground-truth kill goes to the latest attempt still in
flight. A kill with several attempts in flight counts for each of them.

Where the sentence about which explanation the data supports is made: :func:`explain_pair`
(two results, retries on and off) and :func:`explain_run` (one run).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.evidence import ClientRequest, Observation, RunEvidence
from harness.matrix.claims import pair_kill_lines
from harness.matrix.truth import ground_truth


@dataclass(frozen=True)
class Attempt:
    """One arrival of a request at the app."""

    t: float
    pid: int
    ended: float | None = None  # when the app logged the answer, None if it never did
    killed: bool = False


@dataclass(frozen=True)
class RequestTrace:
    """One client request followed through the ingress into the app.

    ``attempts`` is None when the app logs no request ids (not the lab image);
    ``proxy_*`` are None when the run had no ingress or the proxy logged no line for it.
    """

    request_id: str
    step: str
    method: str
    path: str
    t: float
    client_status: int | None
    client_error: str | None
    body: str | None
    attempts: int | None
    kills: int | None
    attempt_pids: list[int] = field(default_factory=list)
    proxy_status: int | None = None
    proxy_retries: int | None = None
    proxy_termination: str | None = None

    @property
    def notable(self) -> bool:
        """Worth a row in a report: it killed something, was sent more than once, or failed."""
        return bool(self.kills) or (self.attempts or 0) > 1 or bool(self.proxy_retries) or self.client_error is not None

    @property
    def sent_by_proxy(self) -> int | None:
        """Attempts the proxy sent (its first plus its retries); None without a proxy line."""
        return None if self.proxy_retries is None else self.proxy_retries + 1


def trace_requests(evidence: RunEvidence) -> list[RequestTrace]:
    """A trace for every client request that carried an id, in the order they were sent."""
    arrivals = _attempts_by_id(evidence)
    logs_ids = any(o.kind == "request_start" for o in evidence.of("console_logs"))
    proxy = {str(o.detail.get("request_id")): o for o in evidence.of("ingress") if o.detail.get("request_id")}
    traces = []
    for request in sorted(evidence.requests, key=lambda r: r.t):
        if not request.request_id:
            continue
        traces.append(_trace(request, arrivals.get(request.request_id, []) if logs_ids else None,
                             proxy.get(request.request_id)))
    return traces


def _trace(request: ClientRequest, attempts: list[Attempt] | None, line: Observation | None) -> RequestTrace:
    detail = line.detail if line is not None else {}
    return RequestTrace(
        request_id=str(request.request_id), step=request.step, method=request.method, path=request.path,
        t=request.t, client_status=request.status, client_error=request.error, body=request.body,
        attempts=None if attempts is None else len(attempts),
        kills=None if attempts is None else sum(1 for a in attempts if a.killed),
        attempt_pids=[a.pid for a in attempts or []],
        proxy_status=detail.get("status"), proxy_retries=detail.get("retries"),
        proxy_termination=detail.get("termination"),
    )


def _attempts_by_id(evidence: RunEvidence) -> dict[str, list[Attempt]]:
    """Every arrival the app logged, grouped by request id, each marked killed or not."""
    console = evidence.of("console_logs")
    ends = {(o.detail.get("id"), o.detail.get("pid")): o.t for o in console if o.kind == "request_end"}
    starts = [o for o in console if o.kind == "request_start"]
    truth = ground_truth(evidence)
    sigkills = [(int(o.detail["pid"]), o.t) for o in pair_kill_lines(evidence, truth).true_lines
                if isinstance(o.detail.get("pid"), int)]
    attempts = [Attempt(o.t, int(o.detail["pid"]), ends.get((o.detail.get("id"), o.detail.get("pid"))))
                for o in starts]
    killed = _killed_by_pid(attempts, sigkills) if sigkills else _killed_by_time(attempts, truth.times)
    grouped: dict[str, list[Attempt]] = {}
    for obs, attempt, was_killed in zip(starts, attempts, killed, strict=False):
        grouped.setdefault(str(obs.detail["id"]), []).append(replace(attempt, killed=was_killed))
    return grouped


def _killed_by_pid(attempts: Sequence[Attempt], sigkills: Iterable[tuple[int, float]]) -> list[bool]:
    """An attempt was killed when its worker PID got SIGKILL after it arrived and before
    it was answered."""
    kills = list(sigkills)
    return [any(pid == a.pid and t >= a.t and (a.ended is None or t < a.ended) for pid, t in kills)
            for a in attempts]


def _killed_by_time(attempts: Sequence[Attempt], kills: Iterable[float]) -> list[bool]:
    """Without PIDs: each kill goes to the latest attempt that arrived before it and was
    still unanswered."""
    killed = [False] * len(attempts)
    for t in kills:
        open_ = [i for i, a in enumerate(attempts) if a.t <= t and (a.ended is None or a.ended > t)]
        if open_:
            killed[max(open_, key=lambda i: attempts[i].t)] = True
    return killed


# ---------------------------------------------------------------------------------------
# Summaries and verdicts


@dataclass(frozen=True)
class KillingRequests:
    """The client requests of one result whose attempts caused at least one kill."""

    scenario: str
    retries: int | None  # the ingress's configured retries; None without an ingress
    traces: list[RequestTrace]

    @property
    def kills_per_request(self) -> list[int]:
        return [t.kills or 0 for t in self.traces]

    @property
    def attempts_per_request(self) -> list[int]:
        return [t.attempts or 0 for t in self.traces]

    @property
    def sent_by_proxy_per_request(self) -> list[int | None]:
        return [t.sent_by_proxy for t in self.traces]

    @property
    def resent_behind_proxy(self) -> bool:
        """Some request reached the app more often than the proxy (if any) sent it."""
        return any((t.attempts or 0) > (t.sent_by_proxy or 1) for t in self.traces)

    @property
    def one_kill_per_attempt(self) -> bool:
        return all(t.kills == t.attempts for t in self.traces)


def killing_requests(scenario: str, settings: dict[str, Any], runs: Iterable[RunEvidence]) -> KillingRequests:
    """Collect the kill-causing requests of every run of one result."""
    ingress = settings.get("ingress") or None
    traces = [t for evidence in runs for t in trace_requests(evidence) if t.kills]
    return KillingRequests(scenario, ingress.get("retries") if isinstance(ingress, dict) else None, traces)


def span(values: Sequence[int]) -> str:
    """``6`` or ``5-6`` (over requests and runs); ``-`` when there are none."""
    if not values:
        return "-"
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def _retries_text(side: KillingRequests) -> str:
    if side.retries is None:
        return "no ingress"
    return f"ingress retries {side.retries}" if side.retries else "ingress retries off"


def _side_text(side: KillingRequests) -> str:
    return (f"{side.scenario} ({_retries_text(side)}): {span(side.kills_per_request)} kill(s) per client request, "
            f"{span(side.attempts_per_request)} attempt(s) reaching the app")


def explain_pair(a: KillingRequests, b: KillingRequests) -> str:
    """Which explanation of repeated kills per request the pair of results supports:
    the ingress retrying (kills follow the proxy's retries) or the request being re-sent
    behind it (kills per request above one with the proxy's retries off)."""
    if a.traces and b.traces and (a.retries or 0) == (b.retries or 0):
        return ("Both sides retry alike, so the pair cannot separate the explanations; "
                f"{_side_text(a)}; {_side_text(b)}.")
    on, off = (a, b) if (a.retries or 0) > (b.retries or 0) else (b, a)
    facts = f"{_side_text(off)}; {_side_text(on)}."
    if not on.traces or not off.traces:
        return f"No request caused a kill on one side, so the pair settles nothing. {facts}"
    if off.resent_behind_proxy or max(off.kills_per_request) > 1:
        return ("The data supports re-sending behind the ingress: with the ingress not retrying, one client "
                f"request still reached the app and killed a worker more than once. {facts}")
    if max(on.kills_per_request) > 1 and on.one_kill_per_attempt and not on.resent_behind_proxy:
        return ("The data supports the retrying-ingress explanation, not gunicorn re-queuing: with retries off "
                "one client request caused exactly one kill; with retries on, every attempt the ingress sent "
                "reached a fresh worker and was killed, and no request reached the app more often than the "
                f"ingress sent it. {facts}")
    return f"The data does not settle it. {facts}"


def explain_run(traces: Sequence[RequestTrace]) -> str | None:
    """One sentence on the worst request of one run; None when no request caused a kill."""
    killing = [t for t in traces if t.kills]
    if not killing:
        return None
    worst = max(killing, key=lambda t: t.kills or 0)
    reached = (f"Client request {worst.request_id} ({worst.method} {worst.path}) "
               f"reached the app {_times(worst.attempts)}")
    sent = worst.sent_by_proxy
    if sent is None:
        how = "with no ingress in front" if worst.attempts == 1 else "with no ingress log to say who re-sent it"
    elif (worst.attempts or 0) > sent:
        how = f"but the ingress sent it only {_times(sent)}: it was re-sent behind the ingress"
    elif worst.proxy_retries:
        how = f"each attempt sent by the ingress (its first and {_count(worst.proxy_retries, 'retry', 'retries')})"
    else:
        how = "sent once by the ingress, which did not retry"
    killed = _count(worst.kills or 0, "worker was", "workers were")
    return f"{reached}, {how}, and {killed} OOM-killed; the client got {_answer(worst)}."


def _times(n: int | None) -> str:
    return {None: "an unknown number of times", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _answer(trace: RequestTrace) -> str:
    if trace.client_status is not None:
        return f"status {trace.client_status}"
    return f"no answer ({trace.client_error})"
