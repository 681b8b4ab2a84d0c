"""Driving a scenario's steps against a running target. Every wait is bounded."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import httpx

from harness.backends.base import LiveStatus, TargetSession
from harness.collectors.client import new_client, send
from harness.errors import EngineLost
from harness.evidence import ClientRequest
from harness.runner.conditions import ConditionState
from harness.scenario.model import (
    BurstStep,
    HttpStep,
    PollStep,
    SleepStep,
    SnapshotStep,
    Step,
    WaitExitStep,
    WaitHealthyStep,
    WaitStep,
)


class StepFailed(Exception):
    """A step could not complete (a bounded wait ran out); the run's evidence is still kept."""


#: How long a poll's or a health check's single request may take on real hardware.
REQUEST_BOUND_S = 2.0


class StepDriver:
    """Runs steps in order, recording every client request and a mark per step."""

    def __init__(
        self, session: TargetSession, health_path: str, run_deadline: float,
        transport: httpx.BaseTransport | None = None,
        on_phase: Callable[[str], None] = lambda phase: None, time_scale: float = 1.0,
    ) -> None:
        self.session = session
        # A poll's or a health check's own request waits at most this long (stretched on
        # slow machines like the scenario's time-outs: a new worker boots slower there).
        self.request_bound_s = REQUEST_BOUND_S * time_scale
        self.health_path = health_path
        self.deadline = run_deadline
        self.requests: list[ClientRequest] = []
        self.marks: list[tuple[float, str]] = []
        self.snapshots: list[dict[str, object]] = []
        self.on_phase = on_phase
        self.http = new_client(session.base_url, transport)

    def close(self) -> None:
        self.http.close()

    def run(self, steps: Sequence[Step]) -> None:
        """Run every step; raises StepFailed at the first one that cannot complete."""
        handlers: dict[str, Callable[[Any], None]] = {
            "wait_healthy": self.wait_healthy, "http": self.http_call, "poll": self.poll,
            "wait": self.wait, "sleep": self.sleep, "burst": self.burst, "wait_exit": self.wait_exit,
            "snapshot": self.snapshot,
        }
        for index, step in enumerate(steps):
            label = f"{index}:{step.kind}:{getattr(step, 'name', None) or getattr(step, 'path', '')}"
            self.marks.append((time.time(), label))
            self.on_phase(label.split(":", 1)[1].rstrip(":"))
            handlers[step.kind](step)

    def _bounded(self, timeout: float) -> float:
        """A step's deadline, never past the run's."""
        return min(time.monotonic() + timeout, self.deadline)

    def _live(self) -> LiveStatus:
        """The target's live status; an engine lost mid-run ends the run at once."""
        live = self.session.live()
        if live.engine_lost:
            raise EngineLost(live.engine_lost)
        return live

    def _check_time(self, deadline: float, what: str, timeout: float) -> None:
        if time.monotonic() >= deadline:
            over = "the run's time limit" if deadline >= self.deadline else f"{timeout:g}s"
            raise StepFailed(f"{what} did not happen within {over}")

    def wait_healthy(self, step: WaitHealthyStep) -> None:
        deadline = self._bounded(step.timeout)
        while True:
            try:
                if self.http.get(self.health_path, timeout=min(self.request_bound_s, step.timeout)).status_code < 300:
                    return
            except httpx.HTTPError:
                pass
            self._check_time(deadline, f"healthy answer from {self.health_path}", step.timeout)
            time.sleep(step.interval)

    def http_call(self, step: HttpStep) -> None:
        record, _ = send(self.http, step.name or step.path, step.method, step.path, step.body,
                         min(step.timeout, max(0.1, self.deadline - time.monotonic())), step.expect_status)
        self.requests.append(record)

    def poll(self, step: PollStep) -> None:
        state = ConditionState(step.until)
        deadline = self._bounded(step.timeout)
        while True:
            record, response = send(self.http, f"poll {step.path}", step.method, step.path,
                                    timeout=max(step.every, self.request_bound_s))
            self.requests.append(record)
            body = _json_or_none(response)
            if state.holds(self._live(), response.status_code if response else None, body):
                return
            self._check_time(deadline, f"poll {step.path} until {step.until.describe()}", step.timeout)
            time.sleep(step.every)

    def wait(self, step: WaitStep) -> None:
        state = ConditionState(step.until)
        deadline = self._bounded(step.timeout)
        while not state.holds(self._live()):
            self._check_time(deadline, step.until.describe(), step.timeout)
            time.sleep(step.every)

    def sleep(self, step: SleepStep) -> None:
        time.sleep(max(0.0, min(step.duration, self.deadline - time.monotonic())))

    def wait_exit(self, step: WaitExitStep) -> None:
        deadline = self._bounded(step.timeout)
        while not self._live().exited:
            self._check_time(deadline, "the container's exit", step.timeout)
            time.sleep(0.1)

    def snapshot(self, step: SnapshotStep) -> None:
        """Record the JSON of each path; a failed read is kept as an error, not raised."""
        captured: dict[str, object] = {}
        for path in step.paths:
            record, response = send(self.http, f"snapshot {step.name}", "GET", path, timeout=step.timeout)
            self.requests.append(record)
            body = _json_or_none(response)
            captured[path] = body if body is not None else {"error": record.error or f"status {record.status}"}
        self.snapshots.append({"name": step.name, "t": time.time(), "data": captured})

    def burst(self, step: BurstStep) -> None:
        deadline = self._bounded(step.total_timeout)
        name = step.name or f"burst {step.path}"
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=step.concurrency, thread_name_prefix="burst") as pool:
            futures = [pool.submit(self._burst_one, name, step, deadline, _start_at(started, i, step.rate))
                       for i in range(step.count)]
            _, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()) + step.timeout)
            for future in pending:
                future.cancel()  # not started yet: never sent
        # Leaving the pool waited for the requests in flight, each bounded by the step's
        # deadline: every request sent is recorded, none is dropped.
        self.requests += [r for f in futures if not f.cancelled() and (r := f.result()) is not None]

    def _burst_one(self, name: str, step: BurstStep, deadline: float, start_at: float) -> ClientRequest | None:
        time.sleep(max(0.0, min(start_at, deadline) - time.monotonic()))
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        # No request outlasts the step's time-out: one sent near its end gets what is left.
        record, _ = send(self.http, name, step.method, step.path, step.body, min(step.timeout, max(0.1, left)))
        return record


def _start_at(started: float, index: int, rate: float | None) -> float:
    """When the ``index``-th request of a burst may start: at once without a rate, else
    ``index / rate`` seconds after the burst began (a request late for its slot goes at once)."""
    return started if rate is None else started + index / rate


def _json_or_none(response: httpx.Response | None) -> object:
    if response is None:
        return None
    try:
        return response.json()
    except ValueError:
        return None
