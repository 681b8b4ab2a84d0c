"""One shape for every live signal source: the :class:`Collector` interface and the one
thread helper, :class:`CollectorThread`, that every collector runs on.

A collector is started before the run's first step and stopped after its last; between
the two it watches its source in one daemon thread. What it saw comes out of
``snapshot()`` (a copy: the caller may keep it while the collector goes on), and whether
the source could be read at all out of ``status()``. A source that could not be read, or
whose thread failed, says :meth:`SourceStatus.unavailable` with the reason: never "ok"
with nothing seen, which the matrix would count as a gap (0 kills seen).

The thread's rules are the same for every collector, so they live in one place:

- two shapes of loop: a periodic ``tick`` (every ``interval`` seconds, or at the pace the
  tick returns; :meth:`CollectorThread.wake` cuts a wait short), or a blocking ``body``
  that follows a source (a stream, a ``poll``) until the stop event is set;
- the first exception the thread raises is kept (``error``), never raised from ``stop``
  and never lost; a collector whose thread failed reports unavailable, naming it;
- the thread's own CPU time is measured (``cpu_s``), for the overhead figures;
- ``stop`` is idempotent and bounded: it sets the stop event, unblocks the body once,
  and joins for at most ``join_timeout`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

from harness.errors import first_line
from harness.evidence import SourceStatus

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: How long ``stop`` waits for a collector's thread to end, unless the collector says.
JOIN_TIMEOUT_S = 5.0


@runtime_checkable
class Collector(Protocol[T_co]):
    """A live signal source: watches from ``start`` to ``stop``.

    ``snapshot`` gives what was seen so far (a new list each call; its item type is the
    collector's own: observations, memory samples, kernel log records, probes);
    ``status`` whether the source could be read, and why not. ``stop`` is idempotent and
    bounded; callers of this interface use no value it returns (the health prober returns
    its probes, which the runner reads so).
    """

    def start(self) -> None:
        """Begin watching (a collector that cannot read its source starts nothing)."""

    def stop(self) -> object:
        """Stop watching and take any final reading (idempotent, bounded)."""

    def snapshot(self) -> Sequence[T_co]:
        """What was seen so far, as a copy."""

    def status(self) -> SourceStatus:
        """Whether the source could be read; unavailable with the reason otherwise."""


def describe(exc: BaseException) -> str:
    """An exception as a reason names it: its type and the first line of its text."""
    name = type(exc).__name__
    return f"{name}: {first_line(exc, 200)}" if str(exc).strip() else name


class CollectorThread:
    """The one way a collector runs a thread; see the module's docstring for the rules.

    Make one with :meth:`periodic` or :meth:`follow`:

    - periodic: ``tick()`` is called until the stop; one that returns a number sets the
      wait before the next call (an adaptive pace; 0 or less: at once), one that returns
      None keeps ``interval``. ``wake()`` ends the current wait (another thread learned
      that something changed). With ``delay_first`` the first call comes one ``interval``
      after the start. A tick that raises does not end the loop: the first exception is
      kept and the ticks go on, so live figures keep coming.
    - follow: ``body(stop_event)`` is called once; it blocks on its source and returns
      when the event is set or the source ends. ``unblock``, called once by the first
      ``stop`` (started or not), makes a blocking call return (closes the stream, writes
      to a wake-up pipe). An exception ends the body and is kept.

    An exception raised after ``stop`` was called is the stop's doing (a closed stream
    ends with an error) and is not kept. A thread that does not end within
    ``join_timeout`` is left behind (it is a daemon) and ``stop`` returns False.
    """

    def __init__(
        self, name: str, *, tick: Callable[[], float | None] | None = None, interval: float = 1.0,
        delay_first: bool = False, body: Callable[[threading.Event], object] | None = None,
        unblock: Callable[[], object] | None = None, join_timeout: float = JOIN_TIMEOUT_S,
    ) -> None:
        if (tick is None) == (body is None):
            raise ValueError("a collector thread has either a tick or a body")
        self.name = name
        self.interval = interval
        self.join_timeout = join_timeout
        self.error: Exception | None = None
        self.cpu_s = 0.0  # CPU time the thread used so far
        self._tick = tick
        self._body = body
        self._unblock = unblock
        self._delay_first = delay_first
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._unblocked = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @classmethod
    def periodic(
        cls, name: str, interval: float, tick: Callable[[], float | None], *, delay_first: bool = False,
        join_timeout: float = JOIN_TIMEOUT_S,
    ) -> CollectorThread:
        """A thread that calls ``tick`` every ``interval`` seconds (or at the pace it returns)."""
        return cls(name, tick=tick, interval=interval, delay_first=delay_first, join_timeout=join_timeout)

    @classmethod
    def follow(
        cls, name: str, body: Callable[[threading.Event], object], *, unblock: Callable[[], object] | None = None,
        join_timeout: float = JOIN_TIMEOUT_S,
    ) -> CollectorThread:
        """A thread that runs ``body(stop_event)`` once, following a blocking source."""
        return cls(name, body=body, unblock=unblock, join_timeout=join_timeout)

    @property
    def started(self) -> bool:
        return self._started

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called."""
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once; not after a stop)."""
        with self._lock:
            if self._started or self._stop.is_set():
                return
            self._started = True
        self._thread.start()

    def wake(self) -> None:
        """Run the next tick now."""
        self._wake.set()

    def tick_now(self) -> None:
        """One tick in the caller's thread (a first reading before the thread starts),
        under the thread's rules: an exception is kept, not raised."""
        assert self._tick is not None, "only a periodic thread ticks"
        try:
            self._tick()
        except Exception as exc:  # noqa: BLE001 - kept for the collector's status
            self._keep(exc)

    def stop(self) -> bool:
        """Stop the thread and wait for it at most ``join_timeout`` seconds; True when it
        ended (or never ran). Idempotent: later calls only wait again."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            unblock, self._unblocked = (None if self._unblocked else self._unblock), True
        if unblock is not None:
            try:
                unblock()
            except Exception:  # noqa: BLE001 - closing a source that already ended may raise; nothing to do
                pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.join_timeout)
        return not self._thread.is_alive()

    def _keep(self, exc: Exception) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            if self.error is None:
                self.error = exc

    def _run(self) -> None:
        started = time.thread_time()
        try:
            if self._body is not None:
                try:
                    self._body(self._stop)
                except Exception as exc:  # noqa: BLE001 - kept for the collector's status
                    self._keep(exc)
            else:
                self._loop(started)
        finally:
            self.cpu_s = time.thread_time() - started

    def _loop(self, started: float) -> None:
        assert self._tick is not None
        if self._delay_first:
            self._pause(self.interval)
        while not self._stop.is_set():
            wait = self.interval
            try:
                paced = self._tick()
                if paced is not None:
                    wait = paced
            except Exception as exc:  # noqa: BLE001 - kept for the collector's status; the ticks go on
                self._keep(exc)
            self.cpu_s = time.thread_time() - started
            if wait > 0 and not self._stop.is_set():
                self._pause(wait)

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()


class ThreadedCollector(Generic[T]):
    """What every collector shares: its items under a lock, its thread, its status.

    ``status()`` is, in this order: unavailable with the reason set by
    :meth:`set_unavailable` (the source cannot be read here at all); unavailable when the
    thread failed, naming what failed (:meth:`_failure`); else the collector's own verdict
    (:meth:`_own_status`, ok by default).
    """

    #: Names the collector in reasons ("the memory sampler failed during the run: ...").
    what = "the collector"

    def __init__(self, thread: CollectorThread) -> None:
        self.thread = thread
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._unavailable: str | None = None

    def start(self) -> None:
        if self._unavailable is None:
            self.thread.start()

    def stop(self) -> object:
        self.thread.stop()
        return None

    def snapshot(self) -> list[T]:
        with self._lock:
            return list(self._items)

    def status(self) -> SourceStatus:
        if self._unavailable is not None:
            return SourceStatus.unavailable(self._unavailable)
        error = self.thread.error
        if error is not None:
            return SourceStatus.unavailable(self._failure(error))
        return self._own_status()

    def set_unavailable(self, reason: str) -> None:
        """This source cannot be read here (its file is missing, or the engine runs on
        another kernel): unavailable with ``reason`` from now on, whatever it reads. Before
        ``start``, nothing starts; a thread already running goes on (its readings are kept,
        the status says they do not count)."""
        self._unavailable = reason

    @property
    def readable(self) -> bool:
        """False once :meth:`set_unavailable` was called."""
        return self._unavailable is None

    @property
    def cpu_s(self) -> float:
        """CPU time the collector's thread used."""
        return self.thread.cpu_s

    def _add(self, items: Iterable[T]) -> None:
        with self._lock:
            self._items.extend(items)

    def _failure(self, exc: Exception) -> str:
        """The reason a failed thread gives."""
        return f"{self.what} failed during the run: {describe(exc)}"

    def _own_status(self) -> SourceStatus:
        return SourceStatus.ok()
