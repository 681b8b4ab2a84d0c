"""The diagnosis when a console kill line lies: a server's own timeout kill ("Perhaps out of
memory?" with no OOM) leads to a cause other than memory, and says why. Fed with the lines
gunicorn and uWSGI printed here (tests/data/recorded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.backends.fake import scripted_evidence
from harness.collectors.console_logs import parse_logs
from harness.collectors.engine_events import event_to_observation
from harness.diagnose import OTHER, diagnose_runs, render_diagnosis
from harness.diagnose.model import FIRM
from harness.diagnose.runs import memory_kills
from harness.evidence import MemorySample, Observation, RunEvidence

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded"
MIB = 1024 * 1024
GUNICORN = {"target": {"process": {"kind": "gunicorn", "worker_class": "sync", "timeout": 3}}}
UWSGI = {"target": {"process": {"kind": "uwsgi", "workers": 1, "harakiri": 3}}}


def recorded_run(name: str, unavailable: dict[str, str] | None = None) -> RunEvidence:
    """A recorded run with its console and events, kills at its ``oom`` events, and flat
    memory samples (about 30 MB of a 256 MiB limit) over its whole length."""
    folder = RECORDED / name
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    observations: list[Observation] = [o for e in events if (o := event_to_observation(e)) is not None]
    observations += parse_logs((folder / "logs.txt").read_text())
    kill_times = [o.t for o in observations if o.kind == "oom"]
    evidence = scripted_evidence(kill_times, observations, unavailable=unavailable)
    evidence.started_at = min(o.t for o in observations)
    evidence.ended_at = max(o.t for o in observations)
    evidence.memory_limit_bytes = 256 * MIB
    steps = int((evidence.ended_at - evidence.started_at) / 0.5)
    evidence.samples = [MemorySample(evidence.started_at + i * 0.5, 30 * MIB, 30 * MIB) for i in range(steps + 1)]
    return evidence


def _lines(settings: dict[str, Any], name: str) -> tuple[Any, str]:
    diagnosis = diagnose_runs([recorded_run(name)], name, settings)
    return diagnosis, render_diagnosis(diagnosis)


def test_gunicorns_timeout_kill_is_a_cause_other_than_memory_and_says_why() -> None:
    diagnosis, text = _lines(GUNICORN, "gunicorn_timeout")
    assert (diagnosis.conclusion, diagnosis.confidence) == (OTHER, FIRM)
    kill = diagnosis.branch("kill")
    assert kill.answer == "no"
    (false_line,) = [line for line in kill.evidence if "the console says" in line]
    assert false_line.startswith('run 1: the console says "Worker (pid:6) was sent SIGKILL! Perhaps out of memory?" '
                                 "but the cgroup counter saw no OOM kill")
    assert '1.0 s before, the server logged "WORKER TIMEOUT (pid:6)"' in false_line
    assert "the worker was serving POST /block" in false_line
    assert diagnosis.branch("growth").answer == "no"
    first = diagnosis.advice[0]
    assert "gunicorn's --timeout (3 s)" in first and "(here POST /block)" in first
    assert "a higher memory limit changes nothing" in first
    assert "conclusion: cause other than memory (firm)" in text


def test_uwsgis_harakiri_kill_reads_the_same_way() -> None:
    diagnosis, _ = _lines(UWSGI, "uwsgi_harakiri")
    assert diagnosis.conclusion == OTHER
    (false_line,) = [line for line in diagnosis.branch("kill").evidence if "the console says" in line]
    assert '"DAMN ! worker 1 (pid: 7) died, killed by signal 9 :( trying respawn ..."' in false_line
    assert "HARAKIRI ON WORKER 1 (pid: 7" in false_line
    assert "uWSGI's harakiri (3 s)" in diagnosis.advice[0]


def test_a_false_kill_line_without_a_timeout_blames_another_sigkill() -> None:
    evidence = recorded_run("gunicorn_timeout")
    evidence.observations = [o for o in evidence.observations if o.kind != "worker_timeout"]
    diagnosis = diagnose_runs([evidence], "x", GUNICORN)
    assert diagnosis.conclusion == OTHER
    assert any("something other than the kernel's OOM killer sent that SIGKILL" in line
               for line in diagnosis.branch("kill").evidence)
    assert diagnosis.advice[0].startswith("1 kill line(s) came with no OOM kill and no timeout line")


def test_a_real_oom_kill_is_not_called_false() -> None:
    diagnosis, _ = _lines({}, "uwsgi_gradual")
    assert diagnosis.branch("kill").answer == "yes"
    assert not any("the console says" in line for line in diagnosis.branch("kill").evidence)


def test_without_a_ground_truth_a_kill_line_after_a_timeout_is_not_counted_as_a_kill() -> None:
    platform = {"cgroup": "not on Azure", "kernel_log": "not on Azure", "engine_oom_event": "not on Azure"}
    evidence = recorded_run("gunicorn_timeout", unavailable=platform)
    assert memory_kills(evidence) == ([], "no source")
    oom = recorded_run("uwsgi_gradual", unavailable={**platform, "engine_state": "none"})
    oom.observations = [o for o in oom.observations if o.source != "engine_oom_event"]
    times, source = memory_kills(oom)
    assert (len(times), source) == (1, "console_logs")
