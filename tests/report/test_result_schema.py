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
from harness.compare import compare, comparison_data
from harness.diagnose import diagnose, diagnosis_data
from harness.errors import ResultError
from harness.report.schema import SCHEMA_FILES, read_result_file, schema_of, schema_text
from harness.result import ScenarioResult, load_result

ROOT = Path(__file__).resolve().parents[2]
STORED = sorted(p for p in (ROOT / "tests" / "data").rglob("*.json")
                if '"schema": "oom-harness/result/' in p.read_text()[:200])


def test_there_are_stored_results_to_check() -> None:
    assert len(STORED) >= 7


@pytest.mark.parametrize("path", STORED, ids=lambda p: str(p.relative_to(ROOT / "tests" / "data")))
def test_every_stored_result_has_the_published_shape_and_round_trips(path: Path) -> None:
    read_result_file(json.loads(path.read_text()))  # refuses a file without the shape, naming the field
    again = load_result(path).to_json()
    read_result_file(again)
    assert load_result_from(again).to_json() == again


def load_result_from(data: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult.from_json(data)


@pytest.mark.parametrize("kind", SCHEMA_FILES)
def test_the_published_file_is_what_the_command_prints(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    assert main(["schema", kind]) == 0
    printed = capsys.readouterr().out
    assert printed == schema_text(kind)
    assert (ROOT / "docs" / "reference" / f"{kind}.schema.json").read_text() == printed, \
        f"docs/reference/{kind}.schema.json is stale: harness schema {kind} > docs/reference/{kind}.schema.json"


def test_schema_with_no_argument_prints_the_result_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text("result")


def _keys_as_published(data: dict[str, Any], schema: dict[str, Any]) -> None:
    assert set(schema["required"]) <= set(data) <= set(schema["properties"])


def test_compare_and_diagnose_write_what_their_schemas_publish() -> None:
    folder = ROOT / "tests" / "data" / "results"
    plain, retried = load_result(folder / "spike-ingress.json"), load_result(folder / "spike-ingress-retry.json")
    written = comparison_data(compare(plain, retried))
    _keys_as_published(written, schema_of("compare"))
    _keys_as_published(written["a"], schema_of("compare")["$defs"]["SideData"])
    assert written["per_request"]["a"]["sent_by_ingress_per_request"]
    _keys_as_published(diagnosis_data(diagnose(plain)), schema_of("diagnose"))


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


def test_a_result_written_before_the_one_serializer_is_written_back_unchanged() -> None:
    # Written by the hand-written writer this serializer replaced (Podman 5.4.2, with the
    # pressure report, request traces, typed facts and kills): every key, value and order.
    path = ROOT / "tests" / "data" / "results" / "pid1-oom-podman5.json"
    assert json.dumps(load_result(path).to_json(), indent=1) == json.dumps(json.loads(path.read_text()), indent=1)
