"""Writing result files: all or nothing, never a half-written file or a mixed set."""

from __future__ import annotations

import json
import os
import shutil
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


#: The files a result set consists of; a folder holding only these may be replaced whole.
RESULT_FILES = frozenset({"result.json", "report.md", "matrix.txt", "timeline.png", "timeline.svg"})


def write_result_set(
    result: ScenarioResult, out_dir: Path, plot: bool = False, platform: str = "azure",
) -> list[Path]:
    """Write result.json, report.md, matrix.txt (and with ``plot`` the timeline) as one set.

    The files are written into a temporary folder beside ``out_dir`` and then put in its
    place, so after an error, a full disk or Ctrl-C ``out_dir`` holds the previous set or
    the new one, never a mix of both or a half-written file. A folder that also holds the
    user's own files is not replaced: the new set's files are renamed into it one by one.
    """
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    except OSError as exc:
        raise HarnessError(f"cannot write results to {out_dir}: {exc}") from exc
    try:
        plot_file = None
        if plot:
            from harness.report.plot import plot_timeline

            plot_file = plot_timeline(result, staging)[0].name
        names = [p.name for p in write_reports(result, staging, plot_file, platform)]
        if plot_file:
            names += sorted(p.name for p in staging.glob("timeline.*"))
        _put_in_place(staging, out_dir)
    except OSError as exc:
        raise HarnessError(f"cannot write results to {out_dir}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in names]


def _put_in_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    if not out_dir.is_dir():
        raise HarnessError(f"cannot write results to {out_dir}: it is a file, not a folder")
    if {p.name for p in out_dir.iterdir()} <= RESULT_FILES:
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(old)
        try:
            staging.rename(out_dir)
        except BaseException:
            old.rename(out_dir)  # the previous set goes back where it was, never stranded
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    for stale in RESULT_FILES - {p.name for p in staging.iterdir()}:
        (out_dir / stale).unlink(missing_ok=True)
    for new in staging.iterdir():
        os.replace(new, out_dir / new.name)
