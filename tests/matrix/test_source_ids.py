"""The scenario model and the matrix name the same sources, in the same order."""

from harness.matrix.sources import SOURCE_IDS as MATRIX_SOURCE_IDS
from harness.scenario.model import SOURCE_IDS as SCENARIO_SOURCE_IDS


def test_scenario_expectations_and_matrix_rows_use_one_list_of_sources() -> None:
    assert tuple(SCENARIO_SOURCE_IDS) == MATRIX_SOURCE_IDS


def test_every_source_has_a_kubernetes_analogue_and_reports_can_name_it() -> None:
    from pathlib import Path

    from harness.matrix.sources import KUBERNETES_ANALOGUES, SOURCES, analogue
    from harness.report import render_text
    from harness.result import load_result

    assert set(KUBERNETES_ANALOGUES) == {s.id for s in SOURCES}
    assert "group kill" in analogue("restart_count", "kubernetes")
    assert analogue("restart_count") == "RestartCount metric and replica restartCount"
    result = load_result(Path(__file__).resolve().parents[1] / "data" / "results" / "gradual.json")
    text = render_text(result, "kubernetes")
    assert "Kubernetes analogue" in text and "kube_pod_container_status_restarts" in text
    assert "Azure analogue" in render_text(result)
