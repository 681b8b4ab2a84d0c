"""result.json round trips, the rendered reports, and writing them whole or not at all."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.backends.fake import scripted_evidence
from harness.errors import HarnessError, ResultError
from harness.evidence import ClientRequest, ContainerState, Kill, MemorySample, Observation, RunEvidence
from harness.matrix import MatrixRow, aggregate, build_matrix, figures
from harness.report import files as report_files
from harness.report import render_text, write_reports
from harness.report.files import write_result_set
from harness.report.markdown import render_markdown
from harness.result import RunResult, ScenarioResult, load_result

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"
MIB = 2**20
ENGINE = {"name": "docker", "version": "20.10.24+dfsg1", "cgroup_version": "1", "kernel": "6.18.44-fc-v669"}


def _evidence(run: int, kill_at: float) -> RunEvidence:
    evidence = scripted_evidence([kill_at], [
        Observation("console_logs", kill_at - 0.3, "progress", False,
                    {"allocated_mb": 464.0, "rss_mb": 494.9, "pid": 7, "line": "[OOM-TEST] allocated_mb=464"}),
        Observation("console_logs", kill_at + 0.01, "sigkill_line", True, {"pid": 7}),
        Observation("console_logs", kill_at + 0.02, "worker_boot", False, {"pid": 11}),
        Observation("engine_oom_event", kill_at, "oom", True, {}),
    ], unavailable={"kernel_log": "/dev/kmsg not readable"}, started_at=1000.0, ended_at=1030.0)
    evidence.run = run
    evidence.kills = [Kill(t=kill_at, victim_pid=7, victim_name="gunicorn", anon_rss_kb=506000,
                           detected_at=kill_at + 0.0141, kernel_t=kill_at)]
    evidence.samples = [MemorySample(kill_at - 0.05, 502 * MIB, 500 * MIB),
                        MemorySample(kill_at + 0.05, 30 * MIB, None)]
    evidence.highwater_bytes = 512 * MIB
    evidence.one_minute = [(960.0, 71.3 * MIB), (1020.0, 30.0 * MIB)]
    evidence.requests = [ClientRequest(1001.0, "start", "POST", "/start", 202, None, 12.5, "abc123")]
    evidence.marks = [(1000.5, "0:wait_healthy:"), (1001.0, "1:http:start")]
    evidence.facts = {"container_id": "7ea3125cf5d8"}
    evidence.final_state = ContainerState(status="running", restart_count=0)
    evidence.engine_label = "Docker 20.10.24"
    return evidence


def _result(runs: int = 2, failures: list[str] | None = None) -> ScenarioResult:
    results = []
    for run in range(1, runs + 1):
        evidence = _evidence(run, 1015.0 + run)
        results.append(RunResult(evidence, figures(evidence), build_matrix(evidence)))
    return ScenarioResult(scenario="gradual", scenario_file="scenarios/gradual.yaml", engine=ENGINE, runs=results,
                          matrix=aggregate([r.matrix for r in results]), failures=failures or [],
                          settings={"repeat": runs})


def _round_trip(result: ScenarioResult) -> ScenarioResult:
    return ScenarioResult.from_json(json.loads(json.dumps(result.to_json())))


def test_json_round_trip_keeps_matrix_figures_and_evidence() -> None:
    result = _result()
    again = _round_trip(result)
    assert again.matrix == result.matrix
    assert [r.figures for r in again.runs] == [r.figures for r in result.runs]
    assert [r.matrix for r in again.runs] == [r.matrix for r in result.runs]
    for old, new in zip(result.runs, again.runs, strict=True):
        assert new.evidence.observations == old.evidence.observations
        assert new.evidence.kills == old.evidence.kills
        assert new.evidence.status == old.evidence.status
        assert new.evidence.requests == old.evidence.requests
        assert new.evidence.samples == old.evidence.samples
        assert new.evidence.one_minute == old.evidence.one_minute
        assert new.evidence.marks == old.evidence.marks
    assert (again.scenario, again.scenario_file, again.engine, again.passed) == (
        "gradual", "scenarios/gradual.yaml", ENGINE, True)
    assert again.to_json() == result.to_json()


def test_figures_and_matrix_recomputed_from_read_back_evidence_are_the_same() -> None:
    again = _round_trip(_result())
    for run in again.runs:
        assert figures(run.evidence) == run.figures
        assert build_matrix(run.evidence) == run.matrix


def test_unknown_top_level_keys_survive_a_round_trip() -> None:
    data = {**_result().to_json(), "compare": {"baseline": "x"}}
    again = ScenarioResult.from_json(data)
    assert again.extra == {"compare": {"baseline": "x"}}
    assert again.to_json()["compare"] == {"baseline": "x"}


def test_failures_make_a_result_fail() -> None:
    again = _round_trip(_result(failures=["run 1: lifecycle_events was gap (0/1), expected visible"]))
    assert not again.passed
    assert again.to_json()["passed"] is False


@pytest.mark.parametrize("name", ["gradual", "spike", "spike-ingress", "spike-ingress-retry"])
def test_recorded_results_load(name: str) -> None:
    result = load_result(RESULTS / f"{name}.json")
    assert result.scenario == name
    assert result.source("cgroup").verdict == "visible"
    assert all(run.figures.oom_kills >= 1 for run in result.runs)
    assert _round_trip(result).matrix == result.matrix


def test_the_recorded_gradual_result_reads_as_the_readme_says() -> None:
    result = load_result(RESULTS / "gradual.json")
    assert len(result.runs) == 3
    assert {run.figures.kill_threshold_mb for run in result.runs} == {464.0}
    assert result.source("lifecycle_events").verdict == "gap"
    assert result.source("metric_1m_avg").verdict == "partial"
    with pytest.raises(KeyError):
        result.source("nope")


def test_load_result_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="no such result file"):
        load_result(tmp_path)
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(ResultError, match="not a readable result file"):
        load_result(tmp_path)
    (tmp_path / "result.json").write_text(json.dumps({"runs": []}))
    with pytest.raises(ResultError, match="not a harness result"):
        load_result(tmp_path / "result.json")


def test_spread_across_runs() -> None:
    spread = _result(runs=3).spread()
    assert spread["kill_threshold_mb"] == {"min": 464.0, "max": 464.0, "stdev": 0.0}
    assert spread["oom_kills"]["max"] == 1.0
    assert _result(runs=1).spread()["time_to_oom_s"]["stdev"] == 0.0


# --- rendering -------------------------------------------------------------------------


def test_render_text_holds_the_matrix_and_the_runs() -> None:
    text = render_text(_result(failures=["run 2: expected at least 2 OOM kills, saw 1"]))
    assert text.startswith("scenario gradual: 2 run(s) on docker 20.10.24+dfsg1, cgroup v1")
    for row in _result().matrix:
        assert row.source in text
    assert "2/2" in text and "GAP" in text and "n/a" in text and "unavailable" in text
    assert "Spread across runs" in text
    assert text.endswith("expectations: FAILED\n  - run 2: expected at least 2 OOM kills, saw 1")


def test_render_text_of_one_passing_run() -> None:
    text = render_text(_result(runs=1))
    assert "Spread across runs" not in text
    assert text.endswith("expectations: PASSED")
    assert "464" in text and "494.9" in text  # kill threshold and RSS in the run table


def test_render_markdown_holds_the_matrix_as_a_table() -> None:
    markdown = render_markdown(_result(failures=["run 1: boom"]), plot_file="timeline.png")
    assert markdown.startswith("# oom-harness: gradual\n")
    assert "## Gap matrix" in markdown and "| source" in markdown
    assert "| cgroup " in markdown and "| console_logs " in markdown
    assert "Expectations: **FAILED**" in markdown
    assert "## Failed expectations\n\n- run 1: boom" in markdown
    assert "![memory timeline](timeline.png)" in markdown


# --- writing ---------------------------------------------------------------------------


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_reports_writes_every_file_and_no_temporary_one(tmp_path: Path) -> None:
    out = tmp_path / "results" / "gradual"
    written = write_reports(_result(), out)
    assert sorted(p.name for p in written) == ["matrix.txt", "report.md", "result.json"]
    assert _listing(out) == ["matrix.txt", "report.md", "result.json"]
    assert load_result(out).matrix == _result().matrix
    assert (out / "matrix.txt").read_text() == render_text(_result()) + "\n"


def test_write_reports_replaces_old_files_whole(tmp_path: Path) -> None:
    write_reports(_result(runs=1), tmp_path)
    write_reports(_result(runs=2), tmp_path)
    assert len(load_result(tmp_path).runs) == 2
    assert _listing(tmp_path) == ["matrix.txt", "report.md", "result.json"]


class _DiskFull(io.StringIO):
    """A file that takes half of what is written, then fails as a full disk does."""

    def __init__(self, fd: int, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fd = fd

    def write(self, text: str) -> int:
        os.write(self.fd, text[: len(text) // 2].encode())
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        os.close(self.fd)
        super().close()


def test_a_failed_write_leaves_no_half_written_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_reports(_result(runs=1), tmp_path)
    before = {name: (tmp_path / name).read_text() for name in _listing(tmp_path)}
    monkeypatch.setattr(report_files.os, "fdopen", _DiskFull)
    with pytest.raises(HarnessError, match="No space left on device"):
        write_reports(_result(runs=2), tmp_path)
    assert _listing(tmp_path) == ["matrix.txt", "report.md", "result.json"]  # no temporary file left
    assert {name: (tmp_path / name).read_text() for name in before} == before  # the old ones are intact


def test_a_failed_render_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> str:
        raise RuntimeError("cannot render")

    monkeypatch.setattr(report_files, "render_text", broken)
    with pytest.raises(RuntimeError):
        write_reports(_result(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_unusable_folder_is_a_harness_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(HarnessError, match="cannot write results to"):
        write_reports(_result(), tmp_path / "file" / "out")


# --- result sets: written whole ---------------------------------------------------------


def test_a_result_set_replaces_the_previous_set_whole(tmp_path: Path) -> None:
    out = tmp_path / "results" / "gradual"
    write_result_set(_result(runs=1), out)
    (out / "timeline.png").write_bytes(b"from an earlier --plot run")
    written = write_result_set(_result(runs=2), out)
    assert sorted(p.name for p in written) == ["matrix.txt", "report.md", "result.json"]
    assert _listing(out) == ["matrix.txt", "report.md", "result.json"]  # the stale timeline went too
    assert len(load_result(out).runs) == 2
    assert _listing(out.parent) == ["gradual"]  # no staging or old folder left


def test_a_failed_set_leaves_the_previous_set_and_no_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_result_set(_result(runs=1), out)
    before = {name: (out / name).read_text() for name in _listing(out)}
    monkeypatch.setattr(report_files, "render_markdown", lambda *args: (_ for _ in ()).throw(OSError(28, "disk full")))
    with pytest.raises(HarnessError, match="disk full"):
        write_result_set(_result(runs=2), out)
    assert {name: (out / name).read_text() for name in _listing(out)} == before
    assert _listing(tmp_path) == ["out"]


def test_a_failed_rename_puts_the_previous_set_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_result_set(_result(runs=1), out)
    before = {name: (out / name).read_text() for name in _listing(out)}
    real_rename = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if Path(target) == out and self.name != f".out.old-{os.getpid()}":  # the new set's move fails
            raise OSError(5, "Input/output error")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises((HarnessError, OSError)):
        write_result_set(_result(runs=2), out)
    assert {name: (out / name).read_text() for name in _listing(out)} == before
    assert _listing(tmp_path) == ["out"]  # nothing stranded in .out.old-PID, no staging folder


def test_a_folder_with_the_users_own_files_keeps_them(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "timeline.svg").write_text("stale")
    write_result_set(_result(), tmp_path)
    assert _listing(tmp_path) == ["matrix.txt", "notes.txt", "report.md", "result.json"]
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


# --- schema version, checked on read ----------------------------------------------------


@pytest.mark.parametrize("schema, message", [
    ("oom-harness/result/2", "result schema oom-harness/result/2 is newer than this harness reads"),
    (None, "not a harness result (schema None"),
    ("something/else/1", "not a harness result (schema 'something/else/1'"),
    ("oom-harness/result/x", "unknown result schema"),
])
def test_a_result_of_another_schema_is_refused_with_the_file_named(
    tmp_path: Path, schema: str | None, message: str
) -> None:
    data = _result().to_json()
    data["schema"] = schema
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    with pytest.raises(HarnessError) as refused:
        load_result(path)
    assert str(refused.value).startswith(f"{path}: ") and message in str(refused.value)


def test_a_json_that_is_no_object_is_refused(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text("[1, 2]\n")
    with pytest.raises(HarnessError, match="not a harness result \\(a JSON list"):
        load_result(tmp_path)


# --- golden results: verdicts recomputed from the stored evidence -----------------------


def _verdicts(rows: list[MatrixRow]) -> list[tuple[str, str, int | None, int]]:
    return [(r.source, r.verdict, r.kills_seen, r.ground_truth_kills) for r in rows]


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.stem)
def test_stored_verdicts_follow_from_the_stored_evidence(path: Path) -> None:
    """The matrix built today from each recorded run's evidence is the matrix recorded then,
    run by run and aggregated: a change in how verdicts are made cannot pass unnoticed."""
    result = load_result(path)
    rebuilt = [build_matrix(run.evidence) for run in result.runs]
    for run, matrix in zip(result.runs, rebuilt, strict=True):
        assert _verdicts(matrix) == _verdicts(run.matrix), f"run {run.evidence.run}"
    assert _verdicts(aggregate(rebuilt)) == _verdicts(result.matrix)


def test_typed_facts_keep_their_place_in_result_json() -> None:
    data = _result(runs=1).to_json()
    facts = data["runs"][0]["evidence"]["facts"]
    assert facts["container_id"] == "7ea3125cf5d8" and facts["engine"] == "Docker 20.10.24"
    assert facts["final_state"]["status"] == "running" and facts["final_state"]["restart_count"] == 0
    evidence = ScenarioResult.from_json(data).runs[0].evidence
    assert evidence.final_state == ContainerState(status="running", restart_count=0)
    assert evidence.engine_label == "Docker 20.10.24" and "engine" not in evidence.facts


def test_stored_results_read_their_typed_facts() -> None:
    evidence = load_result(RESULTS / "gradual.json").runs[0].evidence
    assert evidence.final_state is not None and evidence.final_state.status == "running"
    assert (evidence.health_probes, evidence.health_probe_failures) == (38, 1)


def test_fields_added_within_the_schema_version_are_ignored_by_every_reader(tmp_path: Path) -> None:
    # The README promises that fields may be added within a schema version: a result from
    # a later harness with new fields in its requests, kills, figures, matrix rows and
    # alerting evidence still reads.
    data = json.loads((RESULTS / "spike.json").read_text())
    run = data["runs"][0]
    for record in (run["evidence"]["requests"][0], run["evidence"]["kills"][0], run["figures"], run["matrix"][0],
                   run["evidence"]["observations"][0]):
        record["added_later"] = 1
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    result = load_result(path)
    assert result.runs[0].evidence.requests[0] == load_result(RESULTS / "spike.json").runs[0].evidence.requests[0]
