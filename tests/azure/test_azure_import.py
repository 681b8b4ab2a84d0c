"""``harness import``: exported Azure evidence gives the reference lab's gap matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.importers.azure import AzureExport, import_export
from harness.result import load_result

# The reference lab's table 10.1, in the harness's sources.
SEED_TABLE = {
    "lifecycle_events": "gap", "restart_count": "gap", "metric_1m_avg": "partial", "console_logs": "visible",
    "cgroup": "unavailable", "kernel_log": "unavailable", "engine_oom_event": "unavailable",
    "metric_highres": "unavailable",
}


def seed_export(folder: Path, **extra: Path) -> AzureExport:
    return AzureExport(system_logs=folder / "system_logs.json", console_logs=folder / "console_logs.json",
                       working_set=folder / "working_set.json", restart_count=folder / "restart_count.json",
                       replicas=folder / "replicas.json", name="seed000", **extra)


def verdicts(result: object) -> dict[str, str]:
    return {row.source: row.verdict for row in result.matrix}  # type: ignore[attr-defined]


def test_the_seed_export_gives_the_seed_table(seed_dir: Path) -> None:
    result = import_export(seed_export(seed_dir))
    got = verdicts(result)
    assert {source: got[source] for source in SEED_TABLE} == SEED_TABLE
    assert got["engine_state"] == "gap"
    (run,) = result.runs
    assert run.figures.oom_kills == 9
    assert run.figures.ground_truth_source == "estimated from console_logs"
    assert run.figures.killed_pids == [7, 12, 16, 19, 22, 26, 29, 32, 37]
    assert run.figures.peak_1m_avg_mb == 202.9
    assert result.source("console_logs").kills_seen == 9
    assert result.source("metric_1m_avg").kills_seen == 2  # the 14:08 and 14:15 drops


def test_what_was_not_exported_is_unavailable_naming_the_option(seed_dir: Path) -> None:
    result = import_export(seed_export(seed_dir))
    assert result.source("client").verdict == "unavailable"
    assert result.source("client").note == "no --client-log file given"
    assert result.source("health_probe").verdict == "unavailable"
    only_console = import_export(AzureExport(console_logs=seed_dir / "console_logs.json"))
    assert only_console.source("lifecycle_events").note == "no --system-logs file given"
    assert only_console.source("restart_count").note == "no --restart-count file given; no --replicas file given"


def test_the_client_log_adds_the_spike_failure_and_the_time_to_oom(seed_dir: Path) -> None:
    result = import_export(seed_export(seed_dir, client_log=seed_dir / "client.log"))
    assert result.source("client").verdict == "partial" and result.source("client").kills_seen == 1
    (run,) = result.runs
    assert run.figures.client_error_kinds == {"5xx": 1}
    assert run.figures.time_to_oom_s == pytest.approx(14.5)  # from POST /start to the first SIGKILL line
    assert {k: v for k, v in verdicts(result).items() if k in SEED_TABLE} == SEED_TABLE


def test_a_pid1_restart_loop_is_seen_by_the_platform(pid1_dir: Path) -> None:
    result = import_export(AzureExport(system_logs=pid1_dir / "system_logs.json",
                                       console_logs=pid1_dir / "console_logs.json",
                                       replicas=pid1_dir / "replicas.json"))
    got = verdicts(result)
    assert (got["lifecycle_events"], got["restart_count"], got["console_logs"]) == ("visible", "visible", "gap")
    assert got["engine_state"] == "gap"  # the platform said ProcessExited, not OOMKilled
    assert result.runs[0].figures.exit_codes == [137, 137, 137]


def test_nothing_to_import_and_bad_names_are_errors(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="nothing to import: give at least one of --system-logs"):
        import_export(AzureExport())
    with pytest.raises(HarnessError, match="is not a usable name"):
        import_export(AzureExport(console_logs=tmp_path / "x.json", name="../up"))


def test_the_command_writes_and_prints_like_run(seed_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["import", "--system-logs", str(seed_dir / "system_logs.json"),
                 "--console-logs", str(seed_dir / "console_logs.json"),
                 "--working-set", str(seed_dir / "working_set.json"),
                 "--restart-count", str(seed_dir / "restart_count.json"),
                 "--replicas", str(seed_dir / "replicas.json"), "--name", "seed000", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Gap matrix" in printed and "console_logs" in printed
    assert sorted(p.name for p in out.iterdir()) == ["matrix.txt", "report.md", "result.json"]
    loaded = load_result(out)
    assert {k: v for k, v in verdicts(loaded).items() if k in SEED_TABLE} == SEED_TABLE
    data = json.loads((out / "result.json").read_text())
    assert data["scenario"] == "seed000" and data["runs"][0]["backend"] == "azure"


@pytest.mark.parametrize(("content", "message"), [
    ("[1, 2]", "row 1 is not an object"),
    ("{", "not JSON (line 1"),
    ('[{"Log_s": "x"}]', "row 1 has no TimeGenerated column"),
])
def test_parse_errors_exit_2_with_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str,
) -> None:
    bad = tmp_path / "console.json"
    bad.write_text(content)
    assert main(["import", "--console-logs", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()
