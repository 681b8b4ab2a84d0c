"""The sources are declared once (harness/sources.py): the scenario schema, the matrix,
the reports, the Azure mapping and the fake backend all read that one list."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import sources
from harness.backends.fake import scripted_evidence
from harness.evidence import Observation
from harness.matrix import build_matrix
from harness.report import render_text
from harness.result import load_result
from harness.scenario import parse_scenario

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"


def test_every_source_has_both_analogues_and_reports_can_name_them() -> None:
    for source in sources.SOURCES:
        assert source.azure and source.kubernetes, source.id
    assert "group kill" in sources.analogue("restart_count", "kubernetes")
    assert sources.analogue("restart_count") == "RestartCount metric and replica restartCount"
    assert sources.analogue("alert:Mine", own="your rules: mine.yml") == "your rules: mine.yml"
    result = load_result(RESULTS / "gradual.json")
    text = render_text(result, "kubernetes")
    assert "Kubernetes analogue" in text and "kube_pod_container_status_restarts" in text
    assert "Azure analogue" in render_text(result)


def test_a_source_added_in_one_declaration_reaches_every_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    added = sources.Source("oom_score", "OOM score", azure="none: not exposed", kubernetes="none: not exported",
                           counts="score jumps", absent_on_azure="Azure Container Apps does not expose it")
    monkeypatch.setattr(sources, "SOURCES", (*sources.SOURCES, added))

    # The scenario schema takes its id ...
    scenario = parse_scenario({"target": {"image": "labapp"}, "limits": {"memory": "256Mi"}, "steps": ["wait_healthy"],
                               "expect": {"sources": {"oom_score": "visible"}}}, "mine.yaml")
    assert scenario.expect.allowed_verdicts("oom_score") == ("visible",)
    # ... the fake backend reports its status, the matrix gives it a row with its analogue and note ...
    evidence = scripted_evidence([5.0], [Observation("oom_score", 5.1, "jump", True)])
    row = next(r for r in build_matrix(evidence) if r.source == "oom_score")
    assert (row.azure_analogue, row.kills_seen, row.verdict, row.note) == ("none: not exposed", 1, "visible",
                                                                          "1 score jumps")
    assert sources.analogue("oom_score", "kubernetes") == "none: not exported"
    # ... and the Azure mapping knows the platform lacks it.
    from harness.backends.azure.mapping import absent_on_azure

    assert absent_on_azure()["oom_score"] == "Azure Container Apps does not expose it"
