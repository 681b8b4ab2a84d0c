"""Writing result files: all or nothing, never a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from harness.errors import HarnessError
from harness.report.markdown import render_markdown
from harness.report.table import render_text
from harness.result import ScenarioResult


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(
    result: ScenarioResult, out_dir: Path, plot_file: str | None = None, platform: str = "azure",
) -> list[Path]:
    """Write result.json, report.md and matrix.txt into ``out_dir``; return their paths.
    ``platform`` chooses the analogues the reports name (result.json keeps Azure's)."""
    try:
        files = {
            out_dir / "result.json": json.dumps(result.to_json(), indent=2) + "\n",
            out_dir / "report.md": render_markdown(result, plot_file, platform),
            out_dir / "matrix.txt": render_text(result, platform) + "\n",
        }
        for path, text in files.items():
            write_atomic(path, text)
    except OSError as exc:
        raise HarnessError(f"cannot write results to {out_dir}: {exc}") from exc
    return list(files)
