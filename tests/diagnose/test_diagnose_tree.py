"""The playbook's tree on recorded results of the shipped scenarios and on small built cases."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from harness.diagnose import (
    LEAK,
    OTHER,
    PEAK,
    Diagnosis,
    diagnose,
    diagnose_runs,
    diagnosis_data,
    render_diagnosis,
)
from harness.evidence import Kill, MemorySample, Observation, RunEvidence, SourceStatus
from harness.result import ScenarioResult, load_result
from harness.sources import source_ids

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"
MIB = 1024 * 1024
LIMIT = 512 * MIB
T0 = 1_800_000_000.0  # a minute boundary, so 1-minute points line up with it
SOURCES = source_ids()
NOT_ON_A_PLATFORM = ("cgroup", "kernel_log", "engine_oom_event", "metric_highres")


def local_status() -> dict[str, SourceStatus]:
    return {source: SourceStatus.ok() for source in SOURCES}


def platform_status() -> dict[str, SourceStatus]:
    return {source: SourceStatus.unavailable("not on this platform") if source in NOT_ON_A_PLATFORM
            else SourceStatus.ok() for source in SOURCES}


def evidence(
    run: int = 1, *, backend: str = "docker", samples: Iterable[tuple[float, float]] = (),
    kills: Iterable[float] = (), observations: Iterable[Observation] = (),
    one_minute: Iterable[tuple[float, float]] = (), status: dict[str, SourceStatus] | None = None,
    end: float = 30.0,
) -> RunEvidence:
    """A run built from (seconds after T0, MB) samples and kill times in seconds after T0."""
    return RunEvidence(
        run=run, backend=backend, started_at=T0, ended_at=T0 + end, memory_limit_bytes=LIMIT,
        observations=sorted(observations, key=lambda o: o.t),
        kills=[Kill(t=T0 + t) for t in kills],
        status=status if status is not None else local_status(),
        samples=[MemorySample(T0 + t, int(v * MIB), int(v * MIB)) for t, v in samples],
        one_minute=[(T0 + t, v * MIB) for t, v in one_minute],
    )


def ramp(start: float, end: float, from_mb: float, to_mb: float, step: float = 0.5) -> list[tuple[float, float]]:
    """Samples rising linearly from ``from_mb`` at ``start`` to ``to_mb`` at ``end``."""
    count = round((end - start) / step)
    return [(start + i * step, from_mb + (to_mb - from_mb) * i / count) for i in range(count + 1)]


def flat(start: float, end: float, mb: float, step: float = 0.5) -> list[tuple[float, float]]:
    return ramp(start, end, mb, mb, step)


def console(t: float, kind: str, kill: bool = False, **detail: object) -> Observation:
    return Observation("console_logs", T0 + t, kind, kill, detail)


def progress_lines(start: float, end: float, pid: int = 7) -> list[Observation]:
    """The lab app's progress lines: 16 MB more every 0.5 s on a 31 MB baseline."""
    lines = []
    for i, t in enumerate(x / 2 for x in range(int(start * 2), int(end * 2) + 1)):
        allocated = 16.0 * (i + 1)
        lines.append(console(t, "progress", allocated_mb=allocated, rss_mb=allocated + 31, pid=pid))
    return lines


def worker_kill(t: float, killed: int = 7, new: int = 11) -> list[Observation]:
    return [console(t, "sigkill_line", True, pid=killed), console(t + 0.05, "worker_boot", pid=new)]


@pytest.fixture(scope="module")
def gradual() -> ScenarioResult:
    return load_result(RESULTS / "gradual.json")


@pytest.fixture(scope="module")
def spike() -> ScenarioResult:
    return load_result(RESULTS / "spike.json")


def one_run(result: ScenarioResult) -> ScenarioResult:
    return ScenarioResult(result.scenario, result.scenario_file, result.engine, result.runs[:1],
                          result.runs[0].matrix, settings=result.settings)


# ---------------------------------------------------------------------------------------
# The shipped scenarios, as recorded on a real engine


def test_gradual_is_a_leak_suspicion(gradual: ScenarioResult) -> None:
    found = diagnose(gradual)
    assert (found.conclusion, found.confidence) == (LEAK, "firm")
    assert [b.key for b in found.branches] == ["kill", "growth", "shape", "repeat"]
    assert [b.answer for b in found.branches] == ["yes", "yes", "steady climb", "yes, in every run"]
    growth = found.branch("growth").evidence[0]
    assert "working set rose from 30 MB to 502 MB over the 14.8 s before the kill, 98% of the 512 MiB limit" in growth
    repeat = " ".join(found.branch("repeat").evidence)
    assert "worker PID 7 killed, replaced by 11, memory back to 31 MB" in repeat
    assert "3 of 3 runs, each a fresh container, climbed steadily to a kill" in repeat
    assert "at 464 MB allocated" in repeat


def test_gradual_advice_follows_the_seeds(gradual: ScenarioResult) -> None:
    advice = " ".join(diagnose(gradual).advice)
    assert "console logs first: here they saw 3 of 3 kills" in advice
    assert "lifecycle events 0 of 3" in advice
    for word in ("gunicorn", "uWSGI", "--max-requests", "--max-requests-jitter"):
        assert word in advice


def test_gradual_says_regrowth_within_a_run_was_not_observable(gradual: ScenarioResult) -> None:
    undecided = " ".join(diagnose(gradual).undecided)
    assert "went on for at most 4.3 s after the restart" in undecided


def test_one_gradual_run_is_only_a_tentative_leak(gradual: ScenarioResult) -> None:
    found = diagnose(one_run(gradual))
    assert (found.conclusion, found.confidence) == (LEAK, "tentative")
    assert found.branch("repeat").answer == "undecided"
    assert any(line.startswith("one cycle only: cannot tell whether growth repeats") for line in found.undecided)


def test_spike_is_peak_demand_over_the_limit(spike: ScenarioResult) -> None:
    found = diagnose(spike)
    assert (found.conclusion, found.confidence) == (PEAK, "firm")
    assert found.branch("shape").answer == "jump"
    jump = found.branch("shape").evidence[0]
    assert ("a jump from 30 MB to 512 MB in 0.8 s, on one request: POST /spike (step spike), "
            "which got empty_reply") in jump
    assert found.branch("repeat").answer == "no"


def test_spike_advice_is_headroom_with_figures(spike: ScenarioResult) -> None:
    advice = " ".join(diagnose(spike).advice)
    assert "the peak needed about 530 MB against the 512 MiB limit; a limit of 1 GiB" in advice
    assert "empty_reply" in advice


def test_one_spike_run_is_still_peak_demand(spike: ScenarioResult) -> None:
    assert diagnose(one_run(spike)).conclusion == PEAK


# ---------------------------------------------------------------------------------------
# Built cases


def test_no_kill_and_low_memory_is_another_cause() -> None:
    died = Observation("lifecycle_events", T0 + 9.5, "die", True, {"exit_code": 1})
    run = evidence(samples=flat(0, 9, 60), observations=[died])
    found = diagnose_runs([run], "crash")
    assert (found.conclusion, found.confidence) == (OTHER, "firm")
    assert [b.key for b in found.branches] == ["kill", "growth"]
    assert found.branch("kill").answer == "no"
    assert "run 1: no OOM kill (the cgroup counter stayed at 0)" in found.branch("kill").evidence
    growth = found.branch("growth").evidence[0]
    assert "working set stayed near 60 MB, 12% of the 512 MiB limit; well below it" in growth
    assert found.branch("growth").answer == "no"
    assert any("exited with code(s) 1" in line for line in found.advice)


def test_no_kill_near_the_limit_is_another_cause_but_tentative() -> None:
    found = diagnose_runs([evidence(samples=ramp(0, 10, 30, 480))])
    assert (found.conclusion, found.confidence) == (OTHER, "tentative")
    assert any("close to the limit without a kill" in line for line in found.advice)


def test_a_platform_without_samples_judges_growth_from_console_lines() -> None:
    runs = [evidence(i, backend="azure", status=platform_status(), end=120,
                     observations=progress_lines(0.5, 14.5) + worker_kill(15.0),
                     one_minute=[(0, 75), (60, 32)])
            for i in (1, 2)]
    found = diagnose_runs(runs, "azure-gradual")
    assert found.backend == "azure"
    assert (found.conclusion, found.confidence) == (LEAK, "firm")
    growth = found.branch("growth").evidence[0]
    assert "RSS logged by the app rose from 47 MB to 495 MB over the 14.0 s before the kill" in growth
    assert found.branch("repeat").answer == "yes, in every run"
    undecided = " ".join(found.undecided)
    assert "no high-resolution samples on this backend: growth judged from the 29 RSS lines" in undecided
    assert "no cgroup counter or kernel log on this backend: kills counted from console_logs" in undecided
    assert "no lifecycle" not in undecided


def test_only_one_minute_averages_leave_the_shape_undecided() -> None:
    run = evidence(backend="azure", status=platform_status(), end=180,
                   observations=worker_kill(90.0), one_minute=[(0, 40), (60, 75), (120, 32)])
    found = diagnose_runs([run])
    assert found.confidence == "tentative"
    assert found.branch("growth").answer == "yes"
    assert found.branch("shape").answer == "undecided"
    undecided = " ".join(found.undecided)
    assert "no high-resolution samples on this backend: growth judged from 1-minute averages" in undecided
    assert "1-minute averages cannot tell a climb of a few seconds from a jump" in undecided


def test_growth_again_after_the_restart_is_a_sawtooth_within_one_run() -> None:
    samples = ramp(0, 10, 30, 500) + flat(10.5, 12, 30) + ramp(12.5, 20, 30, 300)
    run = evidence(samples=samples, kills=[10.2], observations=worker_kill(10.2), end=20)
    found = diagnose_runs([run])
    assert (found.conclusion, found.confidence) == (LEAK, "firm")
    assert found.branch("repeat").answer == "yes, within a run"
    assert "worker PID 7 killed, replaced by 11, memory back to 30 MB then rising again (to 300 MB)" in \
        found.branch("repeat").evidence[0]


def test_a_sigkill_with_low_memory_is_not_taken_for_memory() -> None:
    died = Observation("lifecycle_events", T0 + 9.5, "die", True, {"exit_code": 137})
    run = evidence(backend="azure", status=platform_status(), samples=flat(0, 9, 50), observations=[died])
    found = diagnose_runs([run])
    assert found.branch("kill").answer == "yes"
    assert "SIGKILL, not confirmed as OOM" in found.branch("kill").evidence[0]
    assert (found.conclusion, found.branch("growth").answer) == (OTHER, "no")


def test_memory_error_without_a_kill_is_said_not_hidden() -> None:
    run = evidence(samples=flat(0, 5, 40), observations=[console(3, "memory_error")])
    found = diagnose_runs([run])
    assert found.confidence == "tentative"
    assert any("MemoryError without a kill" in line for line in found.undecided)


# ---------------------------------------------------------------------------------------
# Output


def test_the_diagnosis_is_json(gradual: ScenarioResult) -> None:
    data = json.loads(json.dumps(diagnosis_data(diagnose(gradual))))
    assert data["conclusion"] == "leak_suspicion"
    assert data["title"] == "leak suspicion"
    assert data["runs"] == 3
    assert data["branches"][0]["question"] == "Was a process killed for lack of memory?"
    assert data["advice"] and data["undecided"]


def test_the_text_shows_each_branch_with_its_evidence(spike: ScenarioResult) -> None:
    text = render_diagnosis(diagnose(spike))
    assert text.splitlines()[:2] == ["diagnosis of spike: 2 runs on docker",
                                     "conclusion: peak demand over the limit (firm)"]
    assert "3. Compared with traffic and time: a steady climb, or a jump? jump" in text
    assert "\nadvice:\n" in text


def test_a_branch_not_asked_is_a_key_error() -> None:
    found: Diagnosis = diagnose_runs([evidence(samples=flat(0, 5, 40))])
    with pytest.raises(KeyError):
        found.branch("shape")


def test_a_result_without_runs_decides_nothing_firmly() -> None:
    found = diagnose_runs([])
    assert (found.conclusion, found.confidence) == (OTHER, "tentative")
    assert found.undecided == ["the result holds no runs: there is nothing to judge"]
