"""A host-style supervisor that runs as PID 1 and restarts its worker after a crash.

It mirrors a serverless host that owns a language worker: when the worker dies (for
example OOM-killed, exit 137) the host logs the exit and starts a new worker, so the
container itself never exits and platform restart counters stay at zero.

    python -m harness.lab.supervisor [--max-restarts 50] [--backoff-s 0.2] -- <worker command...>

SIGTERM and SIGINT are forwarded to the worker; once it exits the supervisor exits 0.
Orphans re-parented to PID 1 are reaped so they never linger as zombies.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

from .logline import emit

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: Python ignores SIGPIPE; the worker must start with default dispositions instead.
WORKER_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGTERM, signal.SIGINT)
EXIT_GAVE_UP = 1
EXIT_CANNOT_START = 127


@dataclass(frozen=True)
class Options:
    """Supervisor settings and the worker command line."""

    command: list[str]
    max_restarts: int = 50
    window_s: float = 60.0
    backoff_s: float = 0.2
    grace_s: float = 10.0


def parse_args(argv: Sequence[str]) -> Options:
    """Split ``[options] -- command...`` and validate both halves."""
    argv = list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(
        prog="python -m harness.lab.supervisor",
        usage="%(prog)s [options] -- <worker command...>",
        description="Run a worker command, restarting it after abnormal exits.",
    )
    parser.add_argument("--max-restarts", type=int, default=50, help="restarts allowed per window (default 50)")
    parser.add_argument("--window-s", type=float, default=60.0, help="restart-limit window in seconds (default 60)")
    parser.add_argument("--backoff-s", type=float, default=0.2, help="pause before a restart (default 0.2)")
    parser.add_argument("--grace-s", type=float, default=10.0, help="wait before SIGKILL on shutdown (default 10)")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("a worker command is required after --")
    if args.max_restarts < 0 or args.window_s <= 0 or args.backoff_s < 0 or args.grace_s <= 0:
        parser.error("--max-restarts and --backoff-s must be >= 0; --window-s and --grace-s > 0")
    return Options(command, args.max_restarts, args.window_s, args.backoff_s, args.grace_s)


def exit_code(status: int) -> int:
    """A wait status as a shell-style code: 128 + signal number for a signal death."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Supervisor:
    """Owns one worker process at a time."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.worker_pid: int | None = None
        self.stop_signal: int | None = None
        self.escalated = False
        self._restarts: deque[float] = deque()

    # Signal handlers only set state and send signals: printing from a handler could
    # re-enter a print already in progress on the main thread.
    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        """Forward SIGTERM/SIGINT and arm the SIGKILL escalation timer."""
        self.stop_signal = signum
        self._signal_worker(signum)
        signal.setitimer(signal.ITIMER_REAL, self.options.grace_s)

    def _on_grace_expired(self, signum: int, frame: FrameType | None) -> None:
        """SIGALRM: the worker ignored the stop signal for too long."""
        self.escalated = True
        self._signal_worker(signal.SIGKILL)

    def _signal_worker(self, signum: int) -> None:
        """Send ``signum`` to the current worker, if there is one still alive."""
        if self.worker_pid is None:
            return
        try:
            os.kill(self.worker_pid, signum)
        except ProcessLookupError:
            pass

    def install_signal_handlers(self) -> None:
        """Forward stop signals to the worker; escalate to SIGKILL after the grace period."""
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self._on_stop_signal)
        signal.signal(signal.SIGALRM, self._on_grace_expired)

    def spawn(self) -> bool:
        """Start the worker; False (after logging why) when it cannot be started."""
        command = self.options.command
        try:
            pid = os.posix_spawnp(command[0], command, os.environ, setsigdef=WORKER_DEFAULT_SIGNALS)
        except OSError as exc:
            emit(f"[SUPERVISOR] cannot start worker process: {exc.strerror or exc} command={command[0]}")
            return False
        self.worker_pid = pid
        if self.stop_signal is not None:
            # The stop signal arrived while the worker was being spawned.
            self._signal_worker(self.stop_signal)
        emit(f"[SUPERVISOR] worker process started pid={pid}")
        return True

    def wait_worker(self) -> int:
        """Reap children until the worker itself exits; return its exit code."""
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == self.worker_pid:
                self.worker_pid = None
                return exit_code(status)
            # Any other pid is an orphan re-parented to us as PID 1: reaping it is the point.

    def may_restart(self) -> bool:
        """Record a restart unless the per-window cap has been reached."""
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > self.options.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.options.max_restarts:
            return False
        self._restarts.append(now)
        return True

    def _shutdown(self) -> int:
        """Log why we stop after a stop signal; a requested stop is a clean exit."""
        if self.escalated:
            emit(f"[SUPERVISOR] worker did not stop within {self.options.grace_s:g} s, sent SIGKILL")
        name = signal.Signals(self.stop_signal or signal.SIGTERM).name
        emit(f"[SUPERVISOR] received {name}, exiting")
        return 0

    def run(self) -> int:
        """Supervise until a clean worker exit, a stop signal or too many restarts."""
        self.install_signal_handlers()
        if not self.spawn():
            return EXIT_CANNOT_START
        while True:
            code = self.wait_worker()
            emit(f"[SUPERVISOR] worker process exited with code {code}")
            if self.stop_signal is not None:
                return self._shutdown()
            if code == 0:
                emit("[SUPERVISOR] worker process finished, exiting")
                return 0
            if not self.may_restart():
                emit(
                    f"[SUPERVISOR] restart limit reached restarts={len(self._restarts)} "
                    f"window_s={self.options.window_s:g}, exiting"
                )
                return EXIT_GAVE_UP
            emit("[SUPERVISOR] restarting worker process")
            time.sleep(self.options.backoff_s)
            if self.stop_signal is not None:
                return self._shutdown()
            if not self.spawn():
                return EXIT_CANNOT_START


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m harness.lab.supervisor``."""
    return Supervisor(parse_args(sys.argv[1:] if argv is None else argv)).run()


if __name__ == "__main__":
    sys.exit(main())
