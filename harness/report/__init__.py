"""Reports: the matrix drawn as a terminal table, Markdown and JSON, written atomically."""

from harness.report.files import write_reports
from harness.report.table import figures_table, matrix_table, render_text

__all__ = ["figures_table", "matrix_table", "render_text", "write_reports"]
