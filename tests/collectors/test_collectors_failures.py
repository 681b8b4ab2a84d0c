"""Each collector's status when its source or its thread fails, fed with recorded inputs
(tests/data/recorded): a failed source is unavailable with the reason, never ok with
nothing seen."""

from __future__ import annotations

import array
import errno
import fcntl
import json
import os
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from docker.errors import APIError, NotFound
from recorded_inputs import Recorded

from harness.cgroupfs import CgroupMemory
from harness.collectors import cgroup as cgroup_module
from harness.collectors.cgroup import CgroupOomCollector
from harness.collectors.client import HealthProber
from harness.collectors.console_follow import ConsoleFollower
from harness.collectors.console_logs import parse_logs
from harness.collectors.engine_events import EngineEventsCollector
from harness.collectors.engine_state import FAILURES_BEFORE_UNAVAILABLE, EngineStateCollector
from harness.collectors.kernel_log import KernelLogCollector, find_kills
from harness.collectors.memory import MemorySampler
from harness.evidence import SourceStatus

OK = SourceStatus.ok()


def _until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class _Stream:
    """A docker-py ``CancellableStream`` stand-in: yields recorded items, then (unless
    ``end``) blocks until closed, as a live stream does; ``fail`` is raised after the items."""

    def __init__(self, items: list[Any], fail: Exception | None = None, end: bool = False) -> None:
        self.items = items
        self.fail = fail
        self.end = end
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        yield from self.items
        if self.fail is not None:
            raise self.fail
        if not self.end:
            self.closed.wait(30)

    def close(self) -> None:
        self.closed.set()


# --- cgroup OOM watch ----------------------------------------------------------------------


def test_an_oom_watch_whose_thread_failed_is_unavailable(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = recorded.copy_dir("cgroup_v2/before", tmp_path / "cg")

    def broken(self: cgroup_module.OomNotifier, timeout_s: float) -> bool:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    monkeypatch.setattr(cgroup_module.OomNotifier, "wait", broken)
    collector = CgroupOomCollector(CgroupMemory(2, path), safety_interval=0.05)
    collector.start()
    assert collector.detection == "poll(memory.events, POLLPRI)"
    _until(lambda: collector.thread.error is not None)
    (path / "memory.events").write_text(recorded.text("cgroup_v2", "after", "memory.events"))
    collector.stop()
    assert collector.status() == SourceStatus.unavailable(
        "the cgroup OOM watch failed during the run: OSError: [Errno 9] Bad file descriptor")


def test_a_healthy_v2_watch_counts_the_recorded_kill_and_stays_ok(recorded: Recorded, tmp_path: Path) -> None:
    path = recorded.copy_dir("cgroup_v2/before", tmp_path / "cg")
    collector = CgroupOomCollector(CgroupMemory(2, path), safety_interval=0.05)
    collector.start()
    (path / "memory.events").write_text(recorded.text("cgroup_v2", "after", "memory.events"))
    _until(lambda: collector.kills == 1)  # the safety read, a plain file raises no POLLPRI
    collector.stop()
    assert collector.status() == OK and collector.wakes == 0
    assert [o.detail["counter"] for o in collector.snapshot()] == [1]


# --- memory sampler ------------------------------------------------------------------------


def test_a_sampler_whose_reading_failed_is_unavailable_and_start_does_not_raise(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = MemorySampler(CgroupMemory(1, recorded.root / "gunicorn_gradual" / "cgroup_before"), interval=0.01)

    def broken(usage: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(sampler, "_refresh_slow_figures", broken)
    sampler.start()  # its first sample fails in the caller's thread: kept, not raised
    sampler.stop()
    assert sampler.status() == SourceStatus.unavailable(
        "the memory sampler failed during the run: OSError: [Errno 5] Input/output error")


def test_a_sampler_on_a_recorded_cgroup_is_ok(recorded: Recorded) -> None:
    sampler = MemorySampler(CgroupMemory(1, recorded.root / "gunicorn_gradual" / "cgroup_before"), interval=0.01)
    sampler.start()
    _until(lambda: len(sampler.snapshot()) >= 3)
    sampler.stop()
    assert sampler.status() == OK
    assert sampler.cpu_s >= 0.0 and sampler.highwater == 33013760


# --- kernel log ----------------------------------------------------------------------------


def test_a_kernel_log_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "kmsg"
    kmsg = KernelLogCollector(str(path))
    kmsg.start()
    kmsg.stop()
    assert kmsg.status() == SourceStatus.unavailable(
        f"{path} not readable (No such file or directory); needs root or CAP_SYSLOG")
    assert not kmsg.thread.started


def _pending(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


def test_a_kernel_log_that_ends_during_the_run_is_unavailable(recorded: Recorded, tmp_path: Path) -> None:
    """The recorded records of gunicorn_spike, one per read as /dev/kmsg gives them,
    through a pipe; then the pipe's writer goes away: the log ended."""
    path = tmp_path / "kmsg"
    os.mkfifo(path)
    held = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # so the writer can open without blocking
    writer = os.open(path, os.O_WRONLY)
    os.close(held)
    kmsg = KernelLogCollector(str(path))
    kmsg.start()
    try:
        assert kmsg.thread.started
        _until(lambda: _pending(writer) == 0)  # its clock mark (no record: a pipe stamps nothing)
        raw = recorded.text("gunicorn_spike", "kmsg.txt").splitlines(keepends=True)
        for record in raw:
            os.write(writer, record.encode())
            _until(lambda: _pending(writer) == 0)
        _until(lambda: len(kmsg.snapshot()) == len(raw))
        assert kmsg.status() == OK
        assert kmsg.snapshot() == recorded.kmsg("gunicorn_spike")
        (kill,) = find_kills(kmsg.snapshot(), recorded.container_id("gunicorn_spike"))
        assert (kill.pid, kill.anon_rss_kb) == (3811, 252740)
    finally:
        os.close(writer)
    _until(lambda: kmsg.thread.error is not None)
    kmsg.stop()
    assert kmsg.status() == SourceStatus.unavailable(
        f"reading {path} failed during the run: the log ended (end of file)")
    assert len(kmsg.snapshot()) == len(raw)  # what it read is kept


# --- engine events -------------------------------------------------------------------------


def test_events_followed_until_the_stop_are_ok(recorded: Recorded) -> None:
    stream = _Stream(recorded.events("pid1_restart"))
    collector = EngineEventsCollector(stream)
    collector.start()
    _until(lambda: len(collector.snapshot()) == 10)
    t0 = time.monotonic()
    collector.stop()  # closes the stream the thread is blocked on
    assert time.monotonic() - t0 < 1.0 and stream.closed.is_set()
    assert collector.status() == OK


def test_an_event_stream_that_ends_before_the_run_is_unavailable(recorded: Recorded) -> None:
    collector = EngineEventsCollector(_Stream(recorded.events("gunicorn_spike"), end=True))
    collector.start()
    _until(lambda: not collector.thread.alive)
    collector.stop()
    assert collector.status() == SourceStatus.unavailable("the engine's event stream ended before the run did")
    assert [o.kind for o in collector.snapshot()] == ["create", "start", "oom"]


def test_an_event_stream_that_fails_is_unavailable_with_the_error(recorded: Recorded) -> None:
    cut = recorded.text("gunicorn_spike", "events.jsonl").splitlines()[2][:40]  # a chunk cut off mid-object
    with pytest.raises(json.JSONDecodeError) as decoding:
        json.loads(cut)
    collector = EngineEventsCollector(_Stream(recorded.events("gunicorn_spike")[:2], fail=decoding.value))
    collector.start()
    _until(lambda: not collector.thread.alive)
    collector.stop()
    assert collector.status() == SourceStatus.unavailable(
        f"the engine's event stream failed during the run: {decoding.value}")
    assert [o.kind for o in collector.snapshot()] == ["create", "start"]


# --- engine state --------------------------------------------------------------------------


def test_state_is_unavailable_while_inspections_fail_and_ok_again_after_one_succeeds(recorded: Recorded) -> None:
    answers: list[Any] = [recorded.inspect("gunicorn_spike")]
    gone = NotFound("No such container: " + recorded.container_id("gunicorn_spike")[:12])

    def inspect() -> dict[str, Any]:
        answer = answers.pop(0) if answers else gone
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    collector = EngineStateCollector(inspect, interval=3600)
    collector.start()
    assert collector.status() == OK
    for _ in range(FAILURES_BEFORE_UNAVAILABLE):
        collector.record()
    assert collector.status() == SourceStatus.unavailable(f"the engine's inspect failed: {gone}")
    answers.append(recorded.inspect("gunicorn_spike"))
    collector.record()
    assert collector.status() == OK
    collector.stop()


def test_state_that_never_answered_is_unavailable() -> None:
    def inspect() -> dict[str, Any]:
        raise APIError("500 Server Error: Internal Server Error")

    collector = EngineStateCollector(inspect, interval=3600)
    collector.start()
    collector.stop()
    assert collector.status() == SourceStatus.unavailable(
        "the engine's inspect failed: 500 Server Error: Internal Server Error")


def test_an_inspection_the_tracker_cannot_read_is_the_state_collectors_failure(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = EngineStateCollector(lambda: recorded.inspects("pid1_restart")[0], interval=3600)
    collector.start()

    def broken(attrs: Any, t: float) -> list[Any]:
        raise KeyError("State")

    monkeypatch.setattr(collector.tracker, "update", broken)
    collector.record()  # what the events' thread calls after a die: it must not raise there
    collector.stop()
    assert collector.status() == SourceStatus.unavailable(
        "the engine state watch failed during the run: KeyError: 'State'")


# --- health probe --------------------------------------------------------------------------


def test_a_prober_whose_thread_failed_is_unavailable() -> None:
    answers = iter([httpx.Response(200)])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers, None)
        if answer is None:
            raise RuntimeError("transport bug")  # not an HTTP error: the prober's own failure
        return answer

    prober = HealthProber("http://lab.test", "/health", interval=0.01, transport=httpx.MockTransport(handler))
    prober.start()
    _until(lambda: prober.thread.error is not None)
    probes = prober.stop()
    assert [(p.ok, p.error) for p in probes] == [(True, None)]
    assert prober.status() == SourceStatus.unavailable(
        "the health probe failed during the run: RuntimeError: transport bug")


def test_failed_probes_are_findings_not_a_failed_prober() -> None:
    answered: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not answered:
            answered.append(1)
            return httpx.Response(200)
        raise httpx.ConnectError("Connection refused", request=request)

    prober = HealthProber("http://lab.test", "/health", interval=0.01, transport=httpx.MockTransport(handler))
    prober.start()
    _until(lambda: len(prober.probes) >= 4)
    probes = prober.stop()
    assert prober.status() == OK
    assert {(p.ok, p.error) for p in probes[1:]} == {(False, "connect")}


def test_a_target_that_never_answered_leaves_the_probe_unavailable_not_a_gap() -> None:
    # A probe that never saw the target up cannot tell an outage from a boot.
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    prober = HealthProber("http://lab.test", "/health", interval=0.01, transport=httpx.MockTransport(handler))
    prober.start()
    _until(lambda: len(prober.probes) >= 3)
    probes = prober.stop()
    assert prober.status() == SourceStatus.unavailable(
        f"never healthy: none of {len(probes)} probes was answered (first error: connect)")
    unstarted = HealthProber("http://lab.test", "/health", transport=httpx.MockTransport(handler))
    unstarted.stop()
    assert unstarted.status() == SourceStatus.unavailable("no health probe was sent (the run ended first)")


# --- console logs --------------------------------------------------------------------------


def _chunks(logs: str) -> list[bytes]:
    """``docker logs --follow --timestamps`` as docker-py streams it: one frame per line."""
    return [line.encode() for line in logs.splitlines(keepends=True)]


def test_the_console_follows_the_stream_and_its_evidence_is_the_whole_log(recorded: Recorded) -> None:
    logs = recorded.logs("gunicorn_gradual")
    stream = _Stream(_chunks(logs))
    console = ConsoleFollower(lambda: stream, lambda: logs.encode())
    console.start()
    _until(lambda: console.kill_lines == 1)
    assert console.allocated_mb == 224.0
    assert [o.kind for o in console.snapshot()].count("sigkill_line") == 1  # live: the lines a pattern knows
    t0 = time.monotonic()
    console.stop()
    assert time.monotonic() - t0 < 1.0 and stream.closed.is_set()
    assert console.status() == OK
    assert console.snapshot() == parse_logs(logs)  # every line, unknown ones too (all are stamped)
    assert console.lines == logs.count("\n")
    console.stop()
    assert console.snapshot() == parse_logs(logs)


def test_a_stream_that_ends_with_the_container_is_no_failure(recorded: Recorded) -> None:
    logs = recorded.logs("pid1_restart")
    console = ConsoleFollower(lambda: _Stream(_chunks(logs), end=True), lambda: logs.encode())
    console.start()
    _until(lambda: not console.thread.alive)
    console.stop()
    assert console.status() == OK
    assert console.snapshot() == parse_logs(logs)


def test_a_log_that_cannot_be_read_is_unavailable(recorded: Recorded) -> None:
    def read_all() -> bytes:
        raise APIError(
            "500 Server Error: Internal Server Error (\"configured logging driver does not support reading\")")

    console = ConsoleFollower(lambda: _Stream(_chunks(recorded.logs("gunicorn_spike"))), read_all)
    console.start()
    _until(lambda: console.kill_lines == 1)
    console.stop()
    assert console.status() == SourceStatus.unavailable(
        "the container's logs could not be read: 500 Server Error: Internal Server Error "
        "(\"configured logging driver does not support reading\")")
    assert console.snapshot() == []


def test_a_log_stream_that_failed_is_unavailable(recorded: Recorded) -> None:
    logs = recorded.logs("gunicorn_spike")
    gone = NotFound("No such container: " + recorded.container_id("gunicorn_spike")[:12])

    def open_stream() -> _Stream:
        raise gone

    console = ConsoleFollower(open_stream, lambda: logs.encode())
    console.start()
    _until(lambda: not console.thread.alive)
    console.stop()
    assert console.status() == SourceStatus.unavailable(
        f"the container's log stream failed during the run: NotFound: {gone}")
    assert console.snapshot() == parse_logs(logs)  # the whole log was read: the lines are there
