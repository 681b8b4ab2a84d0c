"""The scenario model and the matrix name the same sources, in the same order."""

from harness.matrix.sources import SOURCE_IDS as MATRIX_SOURCE_IDS
from harness.scenario.model import SOURCE_IDS as SCENARIO_SOURCE_IDS


def test_scenario_expectations_and_matrix_rows_use_one_list_of_sources() -> None:
    assert tuple(SCENARIO_SOURCE_IDS) == MATRIX_SOURCE_IDS
