"""The CLI's exit codes: 0 passed, 1 an expectation failed, 2 usage/config/engine,
3 internal error (one line; the traceback beside the results), 130 interrupted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from harness import cli
from harness.errors import EngineError, ExpectationFailed, ScenarioError
from harness.result import load_result

DATA = Path(__file__).resolve().parent / "data" / "results"


def _with_command(monkeypatch: pytest.MonkeyPatch, effect: BaseException) -> None:
    def command(args: argparse.Namespace, config: object) -> int:
        raise effect

    monkeypatch.setattr(cli, "cmd_show", command)


@pytest.mark.parametrize("effect, code", [
    (ScenarioError("s.yaml: limits.memory: bad"), 2), (EngineError("no engine"), 2),
    (ExpectationFailed("expected visible"), 1), (KeyboardInterrupt(), 130),
])
def test_harness_errors_and_interrupts(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                       effect: BaseException, code: int) -> None:
    _with_command(monkeypatch, effect)
    assert cli.main(["show", "x"]) == code
    assert capsys.readouterr().err.count("\n") == 1  # one line


def test_a_bug_exits_3_with_one_line_and_the_traceback_beside_the_results(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    _with_command(monkeypatch, ZeroDivisionError("division by zero"))
    assert cli.main(["show", "x"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (ZeroDivisionError: division by zero); traceback in results/")
    assert err.count("\n") == 1
    log = tmp_path / "results" / "harness-internal-error.log"
    assert "Traceback" in log.read_text() and "ZeroDivisionError" in log.read_text()


def test_show_of_a_stored_result_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["show", str(DATA / "gradual.json")]) == 0
    assert "Gap matrix" in capsys.readouterr().out
    assert json.loads((DATA / "gradual.json").read_text())["scenario"] == load_result(DATA / "gradual.json").scenario


@pytest.mark.parametrize("argv, message", [
    (["run", "gradual", "--set", "limits.memroy=1Gi"], 'limits: unknown key "memroy"'),
    (["run", "gradual", "--set", "limits.memory"], "--set limits.memory: expected PATH=VALUE"),
    (["sweep", "gradual"], "give at least one --set"),
    (["sweep", "gradual", "--set", "limits.memory=256Mi,lots"], 'limits.memory: "lots" is not a size'),
    (["sweep", "gradual", "--set", "limits.memory=256Mi", "--parallel", "0"], "--parallel 0"),
    (["right-size", "gradual", "--step", "fast"], "right-size:"),
    (["right-size", "gradual", "--low", "1Gi", "--high", "512Mi"], "--low (1Gi) must be below"),
])
def test_bad_settings_exit_2_before_anything_starts(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                    message: str) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_show_of_a_sweep_prints_its_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from harness.jsondata import to_data
    from harness.sweep.summary import SweepSummary, outcome_of

    outcome = outcome_of(1, "limits.memory=256Mi", {"limits.memory": "256Mi"}, "01-x", 2, 3.0, None, "no engine")
    summary = SweepSummary("gradual", "gradual.yaml", {"limits.memory": ["256Mi"]}, None, "2 CPUs", {}, 3.0,
                           [outcome])
    (tmp_path / "sweep.json").write_text(json.dumps(to_data(summary)))
    assert cli.main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sweep of gradual" in out and "exit 2: no engine" in out
