"""One trial: a shipped scenario run as a user runs it, with one fault injected beside it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import docker

from harness.backends.docker.engine_errors import ENGINE_ERRORS
from harness.config import HarnessConfig
from harness.errors import first_line
from harness.faults.inject import FAULTS, Fault, Log, RunInProgress
from harness.faults.judge import (
    Trial,
    false_gaps,
    leftovers,
    result_state,
    sources_that_saw_every_kill,
    unavailable_sources,
)
from harness.result import load_result
from harness.sweep.children import start


def run_faults(
    faults: list[str], scenarios: list[str], runs: int, work: Path, client: docker.DockerClient,
    config: HarnessConfig, time_scale: float = 1.0, timeout_s: float = 300.0, log: Log = print,
) -> list[Trial]:
    """The baseline (each scenario once, nothing injected), then ``runs`` trials of each
    fault, the scenarios taken in turn. Every trial is judged against its scenario's baseline."""
    trials: list[Trial] = []
    saw: dict[str, set[str]] = {}
    bound = timeout_s * time_scale
    for scenario in scenarios:
        [baseline] = run_trial(FAULTS["none"], scenario, work, client, config, None, bound, time_scale, log)
        trials.append(baseline)
        saw[scenario] = (sources_that_saw_every_kill([load_result(out_dir(work, FAULTS["none"], scenario, 0))])
                         if baseline.result == "whole" else set())
        log(f"faults: baseline {scenario}: exit {baseline.exit_code}, "
            f"saw every kill: {', '.join(sorted(saw[scenario]))}")
    for name in faults:
        for index in range(runs):
            scenario = scenarios[index % len(scenarios)]
            done = run_trial(FAULTS[name], scenario, work, client, config, saw[scenario], bound, time_scale, log)
            trials += done
            log(f"faults: {name} {scenario} {index + 1}/{runs}: " + "; ".join(
                f"exit {t.exit_code}, {t.result}, {len(t.false_gaps)} false gaps, {len(t.leaks)} leaks" for t in done))
    return trials


def out_dir(work: Path, fault: Fault, scenario: str, index: int) -> Path:
    """Where a trial's run writes its result set."""
    return work / f"{fault.name}-{scenario}-{index}"


def run_trial(
    fault: Fault, scenario: str, work: Path, client: docker.DockerClient, config: HarnessConfig,
    saw_every_kill: set[str] | None, timeout_s: float, time_scale: float = 1.0,
    log: Log = print,
) -> list[Trial]:
    """Run ``scenario`` once (``fault.runs_at_once`` times side by side) with ``fault``.

    ``saw_every_kill`` holds the sources that saw every kill with nothing injected (None
    for the baseline trial itself, which is judged by the scenario's own expectations).
    A run that does not end within ``timeout_s`` is interrupted (SIGINT), then killed."""
    work.mkdir(parents=True, exist_ok=True)
    outs = [out_dir(work, fault, scenario, index) for index in range(fault.runs_at_once)]
    for out in outs:  # a result set left by an earlier trial must not pass for this one's
        shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    children = [start(scenario, ["--repeat", "1"], out, out.with_suffix(".log")).process for out in outs]
    run = RunInProgress(client, config, [child.pid for child in children], time_scale, log)
    actor = threading.Thread(target=_act, args=(fault, run), name=f"fault-{fault.name}", daemon=True)
    actor.start()
    codes = [_wait(child, started + timeout_s) for child in children]
    run.ended.set()
    actor.join(180.0)
    if actor.is_alive():
        run.notes.append("the fault did not finish undoing itself within 180 s")
    wall = round(time.monotonic() - started, 1)
    return [_judge(fault, scenario, out, child.pid, code, wall, client, config, saw_every_kill, run.notes)
            for out, child, code in zip(outs, children, codes, strict=True)]


def _act(fault: Fault, run: RunInProgress) -> None:
    try:
        fault.act(run)
    except Exception as exc:  # noqa: BLE001 - a fault that failed is a note on the trial, not a crash
        run.notes.append(f"the fault failed: {type(exc).__name__}: {exc}")


def _wait(child: subprocess.Popen[bytes], deadline: float) -> int | None:
    """The child's exit code; None when it had to be interrupted and killed."""
    try:
        return child.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    child.send_signal(signal.SIGINT)
    try:
        child.wait(60.0)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    return None


def _judge(
    fault: Fault, scenario: str, out: Path, pid: int, code: int | None, wall: float,
    client: docker.DockerClient, config: HarnessConfig, saw_every_kill: set[str] | None, notes: list[str],
) -> Trial:
    state, result = result_state(out, code)
    left = _leftovers(client, config, pid)
    errors = [line for line in out.with_suffix(".log").read_text(errors="replace").splitlines()
              if line.startswith("error:")]
    return Trial(
        fault=fault.name, scenario=scenario, exit_code=code, wall_s=wall, result=state,
        false_gaps=tuple(false_gaps(result, saw_every_kill)) if result and saw_every_kill else (),
        leaks=tuple(left), unavailable=tuple(unavailable_sources(result)) if result else (),
        kills=sum(run.figures.oom_kills or 0 for run in result.runs) if result else None,
        notes=tuple(notes + errors[:2] + ([f"failures: {'; '.join(result.failures)[:300]}"]
                                          if result and result.failures else [])),
    )


def _leftovers(client: docker.DockerClient, config: HarnessConfig, pid: int) -> list[str]:
    try:
        return leftovers(client, config, pid)
    except ENGINE_ERRORS as exc:
        return [f"the engine could not be asked: {first_line(exc, 160)}"]
