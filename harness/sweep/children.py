"""One variant run as a child ``harness run``: its own process, containers, network and
collectors, so nothing that could mix evidence is shared with the other variants.

Children start in their own session: a Ctrl-C at the terminal reaches the sweep only,
which passes one SIGINT to each child; each child then cleans up as ``harness run`` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: How long interrupted children are given to remove what they started.
CLEANUP_WAIT_S = 120.0


@dataclass
class Child:
    """A running ``harness run`` and where it writes."""

    process: subprocess.Popen[bytes]
    out: Path
    log: Path
    started: float

    def poll(self) -> int | None:
        return self.process.poll()

    def interrupt(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    @property
    def pid(self) -> int:
        return self.process.pid


def start(file: str, arguments: list[str], out: Path, log: Path) -> Child:
    """``harness run FILE ARGUMENTS --out OUT --quiet``, its console into ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as console:
        process = subprocess.Popen(
            [sys.executable, "-m", "harness", "run", file, *arguments, "--out", str(out), "--quiet"],
            stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ},
        )
    return Child(process, out, log, time.monotonic())


def stop_all(children: list[Child], wait_s: float = CLEANUP_WAIT_S) -> None:
    """Interrupt every running child once and wait (bounded) for each to clean up; a
    child still running after that is killed (the reaper and the next start remove what
    it left)."""
    for child in children:
        child.interrupt()
    deadline = time.monotonic() + wait_s
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def first_error(log: Path) -> str | None:
    """The child's ``error:`` line, if it printed one."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    return next((line.removeprefix("error: ") for line in lines if line.startswith("error:")), None)
