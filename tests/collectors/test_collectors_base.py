"""The one thread helper every collector runs on, and the one interface they share."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from recorded_inputs import Recorded

from harness.cgroupfs import CgroupMemory
from harness.collectors.base import Collector, CollectorThread, ThreadedCollector, describe
from harness.collectors.cgroup import CgroupOomCollector
from harness.collectors.client import HealthProber
from harness.collectors.console_follow import ConsoleFollower
from harness.collectors.engine_events import EngineEventsCollector
from harness.collectors.engine_state import EngineStateCollector
from harness.collectors.kernel_log import KernelLogCollector
from harness.collectors.memory import MemorySampler
from harness.evidence import SourceStatus


def _until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# --- stop ----------------------------------------------------------------------------------


def test_stop_is_bounded_and_idempotent_when_the_body_does_not_listen() -> None:
    release = threading.Event()
    unblocked: list[int] = []
    thread = CollectorThread.follow("stuck", lambda stop: release.wait(30), unblock=lambda: unblocked.append(1),
                                    join_timeout=0.2)
    thread.start()
    t0 = time.monotonic()
    assert thread.stop() is False  # still blocked: left behind, not waited for
    assert thread.stop() is False
    assert time.monotonic() - t0 < 1.5
    assert unblocked == [1]  # once, by the first stop
    release.set()
    _until(lambda: not thread.alive)
    assert thread.stop() is True
    assert thread.error is None


def test_stop_unblocks_a_blocking_body_at_once() -> None:
    closed = threading.Event()
    thread = CollectorThread.follow("follow", lambda stop: closed.wait(30), unblock=closed.set)
    thread.start()
    t0 = time.monotonic()
    assert thread.stop() is True
    assert time.monotonic() - t0 < 1.0


def _recorder(ticks: list[float]) -> Callable[[], None]:
    def tick() -> None:
        ticks.append(time.monotonic())

    return tick


def test_stop_ends_a_periodic_wait_at_once_and_a_stopped_thread_does_not_start() -> None:
    ticks: list[float] = []
    thread = CollectorThread.periodic("slow", 30.0, _recorder(ticks))
    thread.start()
    _until(lambda: len(ticks) == 1)
    t0 = time.monotonic()
    assert thread.stop() is True
    assert time.monotonic() - t0 < 1.0
    never = CollectorThread.periodic("never", 0.01, _recorder(ticks))
    assert never.stop() is True
    never.start()
    assert not never.started and not never.alive and len(ticks) == 1


def test_a_thread_has_either_a_tick_or_a_body() -> None:
    with pytest.raises(ValueError):
        CollectorThread("neither")
    with pytest.raises(ValueError):
        CollectorThread("both", tick=lambda: None, body=lambda stop: None)


# --- errors --------------------------------------------------------------------------------


def test_the_first_error_is_kept_and_the_ticks_go_on() -> None:
    calls: list[int] = []

    def tick() -> float:
        calls.append(1)
        raise (ValueError("first") if len(calls) == 1 else RuntimeError("later"))

    thread = CollectorThread.periodic("failing", 0.005, tick)
    thread.start()
    _until(lambda: len(calls) >= 3)
    thread.stop()
    assert isinstance(thread.error, ValueError) and str(thread.error) == "first"


def test_an_error_the_stop_caused_is_not_kept() -> None:
    def body(stop: threading.Event) -> None:
        stop.wait(30)
        raise OSError(9, "Bad file descriptor")  # what a closed stream raises

    thread = CollectorThread.follow("closing", body)
    thread.start()
    assert thread.stop() is True
    assert thread.error is None


def test_a_failing_body_ends_and_keeps_its_error() -> None:
    thread = CollectorThread.follow("broken", lambda stop: (_ for _ in ()).throw(ConnectionError("reset")))
    thread.start()
    _until(lambda: not thread.alive)
    assert isinstance(thread.error, ConnectionError)
    assert thread.stop() is True


def test_tick_now_keeps_its_error_instead_of_raising() -> None:
    thread = CollectorThread.periodic("first", 1.0, lambda: 1 / 0)
    thread.tick_now()
    assert isinstance(thread.error, ZeroDivisionError)


class _Failing(ThreadedCollector[int]):
    what = "the test source"

    def __init__(self) -> None:
        super().__init__(CollectorThread.periodic("test-source", 0.01, self._tick))

    def _tick(self) -> None:
        self._add([1])
        raise OSError(5, "Input/output error")


def test_a_collector_whose_thread_failed_is_unavailable_naming_the_failure() -> None:
    collector = _Failing()
    assert collector.status() == SourceStatus.ok()
    collector.start()
    _until(lambda: collector.thread.error is not None)
    collector.stop()
    assert collector.status() == SourceStatus.unavailable(
        "the test source failed during the run: OSError: [Errno 5] Input/output error")
    assert collector.snapshot()  # what it saw before is kept; the status says it is incomplete


def test_a_source_set_unavailable_says_so_first_and_does_not_start() -> None:
    collector = _Failing()
    collector.set_unavailable("the engine does not run on this machine's kernel")
    collector.start()
    assert not collector.thread.started
    assert collector.status() == SourceStatus.unavailable("the engine does not run on this machine's kernel")


def test_describe_names_the_type_and_the_first_line() -> None:
    assert describe(KeyError()) == "KeyError"
    assert describe(ValueError("bad\nsecond line")) == "ValueError: bad"


# --- pace, wake-up, CPU time ---------------------------------------------------------------


def test_wake_cuts_a_wait_short() -> None:
    ticks: list[float] = []
    thread = CollectorThread.periodic("sleepy", 30.0, _recorder(ticks))
    thread.start()
    _until(lambda: len(ticks) == 1)
    woken = time.monotonic()
    thread.wake()
    _until(lambda: len(ticks) == 2, timeout=2.0)
    thread.stop()
    assert ticks[1] - woken < 1.0


def test_the_tick_sets_the_pace_and_delay_first_waits_one_interval() -> None:
    ticks: list[float] = []

    def tick() -> float:
        ticks.append(time.monotonic())
        return 30.0 if len(ticks) >= 3 else 0.0  # at once twice, then slowly

    started = time.monotonic()
    thread = CollectorThread.periodic("paced", 0.2, tick, delay_first=True)
    thread.start()
    _until(lambda: len(ticks) == 3)
    time.sleep(0.1)
    thread.stop()
    assert len(ticks) == 3
    assert ticks[0] - started >= 0.19  # one interval before the first
    assert ticks[2] - ticks[0] < 0.35  # 0: no wait (an interval each would be 0.4 s)


def test_cpu_time_is_the_threads_own() -> None:
    def burn() -> None:
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass

    idle = CollectorThread.periodic("idle", 30.0, lambda: None)
    busy = CollectorThread.follow("busy", lambda stop: burn())
    idle.start()
    busy.start()
    _until(lambda: not busy.alive)
    time.sleep(0.05)
    idle.stop()
    assert busy.cpu_s >= 0.05
    assert idle.cpu_s < 0.02


# --- one interface -------------------------------------------------------------------------


def test_every_signal_source_is_a_collector(recorded: Recorded, tmp_path: Any) -> None:
    v2 = CgroupMemory(2, recorded.root / "cgroup_v2" / "before")
    collectors: list[Collector[Any]] = [
        CgroupOomCollector(v2), MemorySampler(v2), KernelLogCollector(str(tmp_path / "kmsg")),
        EngineEventsCollector(iter([])), EngineStateCollector(lambda: recorded.inspect("gunicorn_spike")),
        HealthProber("http://lab.test", "/health", transport=httpx.MockTransport(lambda r: httpx.Response(200))),
        ConsoleFollower(lambda: iter([]), lambda: b""),
    ]
    for collector in collectors:
        assert isinstance(collector, Collector)
        assert isinstance(collector.status(), SourceStatus)
        assert isinstance(collector.snapshot(), list)
        collector.stop()  # never started: nothing to wait for
        collector.stop()
