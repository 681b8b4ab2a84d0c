"""The published schema of result.json: every stored result has its shape, the file in
docs/ is what `harness schema result` prints, and a reader refuses a malformed result
naming the field while it ignores fields a later harness added within the version."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import ResultError
from harness.report.schema import result_schema_text, validation_problems
from harness.result import ScenarioResult, load_result

ROOT = Path(__file__).resolve().parents[2]
STORED = sorted(p for p in (ROOT / "tests" / "data").rglob("*.json")
                if '"schema": "oom-harness/result/' in p.read_text()[:200])


def test_there_are_stored_results_to_check() -> None:
    assert len(STORED) >= 7


@pytest.mark.parametrize("path", STORED, ids=lambda p: str(p.relative_to(ROOT / "tests" / "data")))
def test_every_stored_result_has_the_published_shape_and_round_trips(path: Path) -> None:
    data = json.loads(path.read_text())
    assert validation_problems(data) == []
    again = load_result(path).to_json()
    assert validation_problems(again) == []
    assert load_result_from(again).to_json() == again


def load_result_from(data: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult.from_json(data)


def test_the_published_file_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "result"]) == 0
    printed = capsys.readouterr().out
    assert printed == result_schema_text()
    assert (ROOT / "docs" / "reference" / "result.schema.json").read_text() == printed, \
        "docs/reference/result.schema.json is stale: harness schema result > docs/reference/result.schema.json"


def _stored() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "tests" / "data" / "results" / "gradual.json").read_text())
    return data


def test_a_malformed_result_is_refused_naming_the_field(tmp_path: Path) -> None:
    data = _stored()
    data["runs"][0]["evidence"]["kills"][0]["t"] = "soon"
    (tmp_path / "result.json").write_text(json.dumps(data))
    with pytest.raises(ResultError, match=r"result.json: not a valid oom-harness/result/1 result: "
                                          r"runs\.0\.evidence\.kills\.0\.t: "):
        load_result(tmp_path)


def test_fields_a_later_harness_adds_within_the_version_are_ignored() -> None:
    data = copy.deepcopy(_stored())
    data["new_top_level"] = {"x": 1}
    data["runs"][0]["evidence"]["kills"][0]["cgroup_path"] = "/sys/fs/cgroup/x"
    data["runs"][0]["figures"]["p99_latency_ms"] = 12.5
    data["matrix"][0]["confidence"] = "high"
    result = ScenarioResult.from_json(data)
    assert result.runs[0].evidence.kills[0].t == data["runs"][0]["evidence"]["kills"][0]["t"]
    assert result.source("cgroup").verdict == data["matrix"][0]["verdict"]


def test_a_newer_version_is_refused_before_its_shape_is_read() -> None:
    data = _stored()
    data["schema"] = "oom-harness/result/2"
    data["runs"] = "changed in version 2"
    with pytest.raises(ResultError, match="newer than this harness reads"):
        ScenarioResult.from_json(data)
