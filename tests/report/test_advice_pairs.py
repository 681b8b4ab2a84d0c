"""compare on the shipped pairs of the lab's advice: --max-requests removes the per-request
leak's kills, 1Gi of headroom does not; and the report's console kill lines."""

from __future__ import annotations

from harness.backends.fake import scripted_evidence
from harness.compare import compare, render_comparison
from harness.evidence import Kill, Observation, RunEvidence
from harness.matrix import aggregate, build_matrix, figures
from harness.report import render_text
from harness.report.markdown import render_markdown
from harness.result import RunResult, ScenarioResult
from harness.scenario import load_scenario
from harness.scenario.catalog import SHIPPED_DIR

SIGKILL = "[2026-11-23 16:00:01 +0000] [1] [ERROR] Worker (pid:{pid}) was sent SIGKILL! Perhaps out of memory?"


def killed_run(kill_times: list[float], pids: list[int]) -> RunEvidence:
    """A run whose workers were OOM-killed at ``kill_times``, each reported by gunicorn's line."""
    lines = [Observation("console_logs", t + 0.03, "sigkill_line", True,
                         {"pid": pid, "line": SIGKILL.format(pid=pid), "pattern": "gunicorn 21+"})
             for t, pid in zip(kill_times, pids, strict=True)]
    evidence = scripted_evidence(kill_times, lines, started_at=0.0, ended_at=20.0)
    evidence.marks = [(0.4, "1:burst:leak")]
    return evidence


def result_of(name: str, runs: list[RunEvidence]) -> ScenarioResult:
    """The result ``harness run`` would write for the shipped scenario ``name`` with these runs."""
    scenario = load_scenario(SHIPPED_DIR / f"{name}.yaml")
    matrices = [build_matrix(ev) for ev in runs]
    return ScenarioResult(
        scenario=scenario.name, scenario_file=None, engine={"name": "docker", "version": "20.10.24"},
        runs=[RunResult(ev, figures(ev), m) for ev, m in zip(runs, matrices, strict=True)],
        matrix=aggregate(matrices),
        settings=scenario.model_dump(mode="json", by_alias=True))


def test_compare_says_max_requests_removed_the_kills() -> None:
    leak = result_of("leak-per-request", [killed_run([0.8, 1.1, 1.5], [8, 7, 9])])
    recycled = result_of("leak-per-request-max-requests", [scripted_evidence([], [], ended_at=20.0)])
    comparison = compare(leak, recycled)
    assert [c.path for c in comparison.changes] == ["target.process.max_requests", "target.process.max_requests_jitter"]
    assert comparison.verdict.startswith(
        "Failure present in A, absent in B. A (leak-per-request): 3 OOM kill(s) in 1 run(s); "
        "B (leak-per-request-max-requests): 0 in 1. Changed: target.process.max_requests: 0 -> 10; "
        "target.process.max_requests_jitter: 0 -> 5. The change removed the failure.")
    assert "console_logs visible -> none" in comparison.verdict
    assert "  - target.process.max_requests: 0 -> 10" in render_comparison(comparison)


def test_compare_says_headroom_did_not_remove_the_leaks_kills() -> None:
    leak = result_of("leak-per-request", [killed_run([0.8, 1.1, 1.5], [8, 7, 9])])
    roomy = result_of("leak-per-request-1gi", [killed_run([2.2], [8])])
    comparison = compare(leak, roomy)
    assert [c.describe() for c in comparison.changes] == ["limits.memory: 512 MiB -> 1 GiB"]
    assert comparison.verdict.startswith("Failure present in both.")
    assert "The change did not remove the failure (fewer kills in B)." in comparison.verdict


def test_the_report_lists_the_kill_lines_and_what_each_reported() -> None:
    evidence = killed_run([10.0], [7])
    evidence.observations.append(Observation("console_logs", 4.0, "sigkill_line", True, {
        "pid": 6, "line": SIGKILL.format(pid=6), "pattern": "gunicorn 21+"}))
    result = result_of("worker-timeout", [evidence])
    text = render_text(result)
    rows = [" ".join(line.split()) for line in text[text.index("Console kill lines"):].splitlines()]
    false = ("1 4.0 Worker (pid:6) was sent SIGKILL! Perhaps out of memory? gunicorn 21+ "
             "NONE: a kill that did not happen")
    assert false in rows
    assert "1 10.0 Worker (pid:7) was sent SIGKILL! Perhaps out of memory? gunicorn 21+ yes, at 10.0 s" in rows
    assert "MISLEADING" in text and "1 without an OOM kill" in text
    assert "## Console kill lines" in render_markdown(result)


def test_the_report_shows_the_lines_nearest_to_a_kill_no_line_reported() -> None:
    lines = [Observation("console_logs", t, "line", False, {"line": f"INFO:     note {t:g}"})
             for t in (2.0, 9.0, 9.5, 30.0)]
    evidence = scripted_evidence([10.0], [*lines, Observation("console_logs", 10.1, "line", False,
                                                             {"line": "app: server exited with status 137"})])
    evidence.kills = [Kill(t=10.0, victim_pid=4242, victim_name="uvicorn")]
    result = result_of("gradual-uvicorn", [evidence])
    text = render_text(result)
    section = text[text.index("Console kill lines"):]
    assert section.splitlines()[1] == ("run 1: OOM kill at 10.0 s (victim uvicorn, host PID 4242): no kill line; "
                                       "the console lines nearest to it:")
    assert "    10.1 s  app: server exited with status 137" in section
    assert "    9.5 s  note 9.5" in section
    markdown = render_markdown(result)
    assert "```\nrun 1: OOM kill at 10.0 s" in markdown


def test_no_kill_line_and_no_unreported_kill_means_no_section() -> None:
    result = result_of("leak-per-request-max-requests", [scripted_evidence([], [], ended_at=20.0)])
    assert "Console kill lines" not in render_text(result)
