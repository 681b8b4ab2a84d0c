"""The gap matrix: which source saw each kill, with its Azure analogue and a verdict."""

from harness.matrix.build import MatrixRow, aggregate, build_matrix, ground_truth
from harness.matrix.figures import RunFigures, figures

__all__ = ["MatrixRow", "RunFigures", "aggregate", "build_matrix", "figures", "ground_truth"]
