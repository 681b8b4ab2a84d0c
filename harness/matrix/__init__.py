"""The gap matrix: which source saw each kill, with its Azure analogue and a verdict."""

from harness.matrix.build import MatrixRow, aggregate, build_matrix
from harness.matrix.figures import RunFigures, figures
from harness.matrix.truth import GroundTruth, ground_truth

__all__ = ["GroundTruth", "MatrixRow", "RunFigures", "aggregate", "build_matrix", "figures", "ground_truth"]
