"""DockerSession on recorded engine answers (tests/data/recorded/gunicorn_spike, Docker
20.10): every source's status comes from its collector, the evidence is assembled from the
collectors' snapshots, and every collector's thread has ended when ``finish`` returns.

The engine's API is a stand-in answering with the recorded inspect, events and logs; the
container is the real :class:`LabContainer` around docker-py's own ``Container`` model.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError
from docker.models.containers import Container

from harness.backends.docker.backend import DockerSession, container_spec
from harness.backends.docker.container import LabContainer
from harness.collectors.console_logs import parse_logs
from harness.collectors.kernel_log import KernelLogCollector
from harness.config import HarnessConfig
from harness.evidence import SourceStatus
from harness.scenario import parse_scenario

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "gunicorn_spike"
CONFIG = HarnessConfig(image="oom-harness/labapp:latest", owner="host/4242/99", user="1000")
HOST_SIDE = ("cgroup", "kernel_log", "metric_highres", "metric_1m_avg")
ENGINE_SIDE = ("engine_oom_event", "lifecycle_events", "engine_state", "restart_count", "console_logs")


class _Stream:
    """docker-py's CancellableStream as the session uses it: the recorded items, then
    blocking until ``close`` (a live follow)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        yield from self.items
        self.closed.wait(30)

    def close(self) -> None:
        self.closed.set()


class _Api:
    """The engine API calls a session makes, answered from the recording."""

    def __init__(self, logs_error: Exception | None = None) -> None:
        self.inspected = json.loads((RECORDED / "inspect.json").read_text())
        self.events_seen = [json.loads(line) for line in (RECORDED / "events.jsonl").read_text().splitlines()]
        self.log_text = (RECORDED / "logs.txt").read_text()
        self.logs_error = logs_error
        self.streams: list[_Stream] = []

    def inspect_container(self, container: str) -> dict[str, Any]:
        assert container == self.inspected["Id"]
        return copy.deepcopy(self.inspected)

    def events(self, since: int, filters: dict[str, str], decode: bool) -> _Stream:
        assert filters == {"container": self.inspected["Id"]} and decode
        return self._stream(self.events_seen)

    def logs(self, container: str, **kwargs: Any) -> Any:
        assert kwargs.get("timestamps") is True
        if kwargs.get("stream"):
            assert kwargs.get("follow") is True
            return self._stream([line.encode() for line in self.log_text.splitlines(keepends=True)])
        if self.logs_error is not None:
            raise self.logs_error
        return self.log_text.encode()

    def _stream(self, items: list[Any]) -> _Stream:
        stream = _Stream(items)
        self.streams.append(stream)
        return stream


class _Client:
    def __init__(self, api: _Api) -> None:
        self.api = api


def _session(api: _Api, tmp_path: Path) -> tuple[DockerSession, KernelLogCollector]:
    scenario = parse_scenario({
        "name": "session", "target": {"image": "labapp", "process": {"workers": 1, "threads": 4}},
        "limits": {"memory": "256m"}, "steps": ["wait_healthy"]}, "session.yaml")
    client: Any = _Client(api)
    lab = LabContainer(client, container_spec(scenario, CONFIG, "r"))
    lab.container = Container(attrs={"Id": api.inspected["Id"]}, client=client)
    lab.created_at = time.time()
    kmsg = KernelLogCollector(str(tmp_path / "kmsg"))  # none here: read only through its status
    kmsg.start()
    return DockerSession(client, lab, scenario, 1, kmsg, engine_label="Docker 20.10.24"), kmsg


def _threads(session: DockerSession) -> dict[str, bool]:
    parts = (session.oom, session.sampler, session.state, session.events, session.console)
    return {part.thread.name: part.thread.alive for part in parts}


def test_the_session_takes_every_status_from_its_collector_and_assembles_the_evidence(tmp_path: Path) -> None:
    api = _Api()
    session, kmsg = _session(api, tmp_path)
    try:
        # The recorded PID 3781 is not this container's process here: the engine's answers
        # are about another kernel, so every host-side source says so.
        assert session.host_side_reason is not None
        deadline = time.monotonic() + 5
        while session.console.kill_lines < 1 or len(session.events.snapshot()) < 3:
            assert time.monotonic() < deadline, "the streams were not followed"
            time.sleep(0.01)
        live = session.live()
        assert (live.kills, live.exited) == (0, False)
        evidence = session.finish()
    finally:
        session.stop()
        kmsg.stop()
    assert not any(_threads(session).values()), _threads(session)
    assert all(stream.closed.is_set() for stream in api.streams)
    assert {source: evidence.status[source] for source in HOST_SIDE} == {
        source: SourceStatus.unavailable(session.host_side_reason) for source in HOST_SIDE}
    assert {source: evidence.status[source] for source in ENGINE_SIDE} == {
        source: SourceStatus.ok() for source in ENGINE_SIDE}
    kinds = [(o.source, o.kind) for o in evidence.observations if o.source != "console_logs"]
    assert kinds == [("lifecycle_events", "create"), ("lifecycle_events", "start"), ("engine_oom_event", "oom")]
    console = [o for o in evidence.observations if o.source == "console_logs"]
    assert console == sorted(parse_logs(api.log_text), key=lambda o: o.t)
    assert [o.detail["pid"] for o in console if o.kill] == [7]
    assert evidence.kills == [] and evidence.samples == []
    assert evidence.facts["console_log_lines"] == api.log_text.count("\n")
    assert evidence.final_state is not None and evidence.final_state.pid == 3781
    assert "final_state" not in evidence.facts  # typed, not in the backend's own facts
    assert evidence.facts["collector_cpu_s"] == {"memory_sampler": 0.0, "oom_watch": 0.0}


def test_a_log_that_cannot_be_read_makes_the_console_unavailable_and_nothing_else(tmp_path: Path) -> None:
    error = APIError("500 Server Error: Internal Server Error (\"configured logging driver does not support reading\")")
    session, kmsg = _session(_Api(logs_error=error), tmp_path)
    try:
        evidence = session.finish()
    finally:
        session.stop()
        kmsg.stop()
    assert evidence.status["console_logs"] == SourceStatus.unavailable(
        "the container's logs could not be read: 500 Server Error: Internal Server Error "
        "(\"configured logging driver does not support reading\")")
    assert {source: evidence.status[source] for source in ENGINE_SIDE if source != "console_logs"} == {
        source: SourceStatus.ok() for source in ENGINE_SIDE if source != "console_logs"}
    assert not [o for o in evidence.observations if o.source == "console_logs"]


def test_stop_is_idempotent_and_a_session_that_failed_to_start_stops_what_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, kmsg = _session(_Api(), tmp_path)
    session.stop()
    session.stop()
    kmsg.stop()
    assert not any(_threads(session).values())

    from harness.collectors.console_follow import ConsoleFollower

    def broken(self: ConsoleFollower) -> None:
        raise RuntimeError("cannot follow")

    monkeypatch.setattr(ConsoleFollower, "start", broken)
    api = _Api()
    with pytest.raises(RuntimeError, match="cannot follow"):
        _session(api, tmp_path)
    assert api.streams and all(stream.closed.is_set() for stream in api.streams)
