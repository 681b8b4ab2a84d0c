"""``harness diagnose``: exit 0 whatever the conclusion, 2 for a file it cannot read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"


def test_prints_the_diagnosis_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(RESULTS / "gradual.json")]) == 0
    out = capsys.readouterr().out
    assert "conclusion: leak suspicion (firm)" in out
    assert "4. Does memory reset after the restart and grow again? yes, in every run" in out


def test_reads_a_result_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(RESULTS / "spike.json", tmp_path / "result.json")
    assert main(["diagnose", str(tmp_path)]) == 0
    assert "conclusion: peak demand over the limit (firm)" in capsys.readouterr().out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--json", str(RESULTS / "spike.json")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["conclusion"] == "peak_demand"
    assert [b["key"] for b in data["branches"]] == ["kill", "growth", "shape", "repeat"]


@pytest.mark.parametrize("content", [None, "not json", '{"runs": []}'])
def test_an_unreadable_file_exits_2(tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "result.json"
    if content is not None:
        path.write_text(content)
    assert main(["diagnose", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err
