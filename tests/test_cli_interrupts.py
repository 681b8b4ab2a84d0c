"""Ctrl-C while the clean-up hangs: the first starts the clean-up, the second says it goes
on, the third exits at once with 130 (real signals to a child process)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from harness.cli import STILL_CLEANING

CHILD = """
import sys, time
from harness import cli
cli.install_signal_handlers()
try:
    print("running", flush=True)  # inside the try: a Ctrl-C right after it is the run's
    time.sleep(30)
except KeyboardInterrupt:
    print("cleaning up", flush=True)
    time.sleep(30)  # a clean-up that hangs (an engine that does not answer)
    print("cleaned up", flush=True)
    sys.exit(130)
"""


def _child() -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "running\n"
    return proc


def test_the_third_ctrl_c_exits_at_once_while_the_clean_up_hangs() -> None:
    proc = _child()
    proc.send_signal(signal.SIGINT)
    assert proc.stdout is not None and proc.stdout.readline() == "cleaning up\n"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert proc.poll() is None  # the second does not cut the clean-up short
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert time.monotonic() - started < 5
    assert STILL_CLEANING in err
    assert "exiting without finishing the clean-up" in err
    assert "cleaned up" not in out


def test_a_second_ctrl_c_lets_a_clean_up_that_ends_end() -> None:
    fast = CHILD.replace("time.sleep(30)  # a clean-up", "time.sleep(0.5)  # a clean-up")
    proc = subprocess.Popen([sys.executable, "-c", fast], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "running\n"
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline() == "cleaning up\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and "cleaned up" in out
    assert STILL_CLEANING in err
