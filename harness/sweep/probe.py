"""One right-size probe: the scenario at one memory limit, k runs, as a child ``harness run``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError, ResultError
from harness.result import load_result
from harness.scenario.units import format_size
from harness.sweep import children
from harness.sweep.rightsize import Probe, probe_of
from harness.units import MIB


def probe_runner(file: str, out: Path, repeat: int) -> Callable[[int], Probe]:
    """A function that runs the probe at a limit (bytes) into ``out/probe-<MiB>Mi``."""

    def run(limit: int) -> Probe:
        folder = f"probe-{limit // MIB}Mi"
        child = children.start(file, ["--set", f"limits.memory={limit}", "--repeat", str(repeat)], out / folder,
                               out / "logs" / f"{folder}.log")
        try:
            code = child.process.wait()
        except BaseException:
            children.stop_all([child])
            raise
        if code not in (0, 1):
            raise HarnessError(f"right-size: the probe at {format_size(limit)} ended with exit {code}: "
                               f"{children.first_error(child.log) or 'no result'} (console: {child.log})")
        try:
            result = load_result(out / folder)
        except ResultError as exc:
            raise HarnessError(f"right-size: the probe at {format_size(limit)} left no readable result: {exc}") from exc
        return probe_of(limit, result, folder)

    return run
