"""The PID-1 allocator and the supervisor, run as real child processes."""

from __future__ import annotations

import json
import signal
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from harness.lab import supervisor

SELF_KILL = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
)


# --- supervisor ------------------------------------------------------------------------


def test_supervisor_restarts_killed_worker_until_the_cap(run_module: Callable[..., Any]) -> None:
    options = ["--max-restarts", "2", "--backoff-s", "0.05"]
    child = run_module("-m", "harness.lab.supervisor", *options, "--", sys.executable, "-c", SELF_KILL)
    assert child.finish(timeout=20) == supervisor.EXIT_GAVE_UP
    lines = child.lines
    started = [line for line in lines if line.startswith("[SUPERVISOR] worker process started pid=")]
    assert len(started) == 3
    assert lines.count("[SUPERVISOR] worker process exited with code 137") == 3
    assert lines.count("[SUPERVISOR] restarting worker process") == 2
    # Each death is followed by the restart announcement, then the new worker's pid.
    first_exit = lines.index("[SUPERVISOR] worker process exited with code 137")
    assert lines[first_exit + 1] == "[SUPERVISOR] restarting worker process"
    assert lines[first_exit + 2].startswith("[SUPERVISOR] worker process started pid=")
    assert lines[-1] == "[SUPERVISOR] restart limit reached restarts=2 window_s=60, exiting"


def test_supervisor_exits_zero_when_worker_finishes(run_module: Callable[..., Any]) -> None:
    child = run_module("-m", "harness.lab.supervisor", "--", sys.executable, "-c", "print('work done')")
    assert child.finish() == 0
    assert "work done" in child.lines
    assert "[SUPERVISOR] worker process exited with code 0" in child.lines
    assert "[SUPERVISOR] restarting worker process" not in child.lines


def test_supervisor_reports_real_exit_code(run_module: Callable[..., Any]) -> None:
    child = run_module(
        "-m", "harness.lab.supervisor", "--max-restarts", "0", "--", sys.executable, "-c", "raise SystemExit(3)"
    )
    assert child.finish() == supervisor.EXIT_GAVE_UP
    assert "[SUPERVISOR] worker process exited with code 3" in child.lines


def test_supervisor_forwards_sigterm_and_exits_zero(run_module: Callable[..., Any]) -> None:
    child = run_module("-m", "harness.lab.supervisor", "--", sys.executable, "-c", SLEEPER)
    child.wait_for_line(r"^ready$")
    started = time.monotonic()
    child.signal(signal.SIGTERM)
    assert child.finish(timeout=5) == 0
    assert time.monotonic() - started < 3
    assert "[SUPERVISOR] worker process exited with code 143" in child.lines
    assert child.lines[-1] == "[SUPERVISOR] received SIGTERM, exiting"


def test_supervisor_kills_worker_that_ignores_sigterm(run_module: Callable[..., Any]) -> None:
    child = run_module("-m", "harness.lab.supervisor", "--grace-s", "0.3", "--", sys.executable, "-c", STUBBORN)
    child.wait_for_line(r"^ready$")
    child.signal(signal.SIGTERM)
    assert child.finish(timeout=5) == 0
    assert "[SUPERVISOR] worker process exited with code 137" in child.lines
    assert "[SUPERVISOR] worker did not stop within 0.3 s, sent SIGKILL" in child.lines


def test_supervisor_cannot_start_missing_command(run_module: Callable[..., Any]) -> None:
    child = run_module("-m", "harness.lab.supervisor", "--", "/nonexistent/worker-binary")
    assert child.finish() == supervisor.EXIT_CANNOT_START
    assert child.lines[0].startswith("[SUPERVISOR] cannot start worker process:")


def test_supervisor_requires_a_command() -> None:
    with pytest.raises(SystemExit) as exc:
        supervisor.parse_args(["--max-restarts", "3"])
    assert exc.value.code == 2


def test_supervisor_parse_args() -> None:
    options = supervisor.parse_args(["--max-restarts", "5", "--backoff-s", "0", "--", "gunicorn", "--workers", "1"])
    assert options.command == ["gunicorn", "--workers", "1"]
    assert options.max_restarts == 5
    assert options.backoff_s == 0


@pytest.mark.parametrize(("status", "code"), [(0, 0), (3 << 8, 3), (signal.SIGKILL, 137), (signal.SIGTERM, 143)])
def test_exit_code_from_wait_status(status: int, code: int) -> None:
    assert supervisor.exit_code(status) == code


def test_may_restart_caps_per_window() -> None:
    sup = supervisor.Supervisor(supervisor.Options(command=["true"], max_restarts=2, window_s=60))
    assert [sup.may_restart() for _ in range(3)] == [True, True, False]


# --- pid1 ------------------------------------------------------------------------------


def test_pid1_hard_allocates_then_exits_on_sigterm(run_module: Callable[..., Any]) -> None:
    child = run_module("-m", "harness.lab.pid1", "--hard-mb", "3", "--chunk-mb", "2")
    pid = child.proc.pid
    child.wait_for_line(rf"^\[PID1\] holding allocated_mb=3 pid={pid}$")
    started = time.monotonic()
    child.signal(signal.SIGTERM)
    assert child.finish(timeout=5) == 0
    assert time.monotonic() - started < 2
    assert child.lines[0] == f"[PID1] allocating 3 MB pid={pid}"
    assert child.wait_for_line(rf"^\[PID1\] allocated_mb=2 rss_mb=\d+\.\d pid={pid}$")
    assert child.wait_for_line(rf"^\[PID1\] allocated_mb=3 rss_mb=\d+\.\d pid={pid}$")
    assert child.lines[-1] == f"[PID1] received SIGTERM, exiting pid={pid}"


def test_pid1_leak_stops_at_cap_and_exits_on_sigint(run_module: Callable[..., Any]) -> None:
    child = run_module("-m", "harness.lab.pid1", "--leak-mb", "1", "--every-s", "0.01", "--max-mb", "3")
    pid = child.proc.pid
    child.wait_for_line(rf"^\[PID1\] leak cap reached allocated_mb=3 pid={pid}$")
    child.signal(signal.SIGINT)
    assert child.finish(timeout=5) == 0
    assert child.lines[0] == f"[PID1] leaking 1 MB every 0.01 s pid={pid}"
    progress = [line for line in child.lines if line.startswith("[PID1] allocated_mb=")]
    assert [line.split()[1] for line in progress] == ["allocated_mb=1", "allocated_mb=2", "allocated_mb=3"]


def test_pid1_serves_health(run_module: Callable[..., Any]) -> None:
    child = run_module("-m", "harness.lab.pid1", "--hard-mb", "1", "--port", "0", "--host", "127.0.0.1")
    port = int(child.wait_for_line(r"^\[PID1\] health server listening port=(\d+) pid=\d+$").group(1))
    child.wait_for_line(r"^\[PID1\] holding")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
        body = json.load(response)
    assert body == {"status": "healthy", "pid": child.proc.pid, "allocated_mb": 1.0}
    child.signal(signal.SIGTERM)
    assert child.finish(timeout=5) == 0


def test_pid1_rejects_bad_arguments(run_module: Callable[..., Any]) -> None:
    assert run_module("-m", "harness.lab.pid1").finish() == 2
    assert run_module("-m", "harness.lab.pid1", "--hard-mb", "0").finish() == 2
    assert run_module("-m", "harness.lab.pid1", "--hard-mb", "1", "--leak-mb", "1").finish() == 2
