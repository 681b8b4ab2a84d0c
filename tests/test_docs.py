"""The documentation holds together, and its runnable commands run.

README.md is the front door and CI's source of the test command (`.ci/run` runs the ```sh
block after ``<!-- test-command -->``); docs/ holds the reference, the findings and the
guides. A page moved or renamed, a link left pointing at nothing, a page missing from the
index or a command whose behaviour changed should fail here rather than mislead a reader:

- README.md stays under 200 lines and keeps the test-command marker before a ```sh block;
- every relative link in README.md and docs/**/*.md points to an existing file (links to
  http(s) and pure ``#anchor`` links are not checked, nor are images: the README's
  timeline picture is added on its own);
- every page under docs/ is linked from docs/README.md and from README.md;
- every ``<!-- runnable -->`` marker (or ``<!-- runnable exit=N -->``, for a command that
  exits N on purpose, e.g. 1 when an expectation failed) comes right before a ```sh block.

The engine test runs those blocks for real, as a user would type them: each page's blocks
in order with ``bash -euo pipefail -c`` in one fresh folder per page, which has the
repository's ``scenarios/`` and ``examples/`` linked in so that paths written from a clone
resolve, with the installed ``harness`` first on PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
LINKED_IN = ("scenarios", "examples")  # repository folders the runnable blocks may name
BLOCK_TIMEOUT_S = 300

TEST_COMMAND = "<!-- test-command -->"
RUNNABLE = re.compile(r"<!-- runnable(?: exit=(?P<exit>\d+))? -->")
FENCE = re.compile(r"^```")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`[^`]*`")


@dataclass(frozen=True)
class Block:
    """A runnable shell block: where it is, its commands and the exit code it declares."""

    page: Path
    line: int  # 1-based line of its marker
    code: str
    exit_code: int

    @property
    def where(self) -> str:
        return f"{_rel(self.page)}:{self.line}"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _lines(page: Path) -> list[str]:
    return page.read_text(encoding="utf-8").splitlines()


def _fenced_block(lines: list[str], opening: int) -> list[str] | None:
    """The lines inside the fence opening at index ``opening``; None when it never closes."""
    for end in range(opening + 1, len(lines)):
        if FENCE.match(lines[end]):
            return lines[opening + 1 : end]
    return None


def marker_problems(page: Path) -> list[str]:
    """Every runnable marker that is malformed or not right before a closed ```sh block."""
    lines = _lines(page)
    problems = []
    for index, line in enumerate(lines):
        if not line.lstrip().startswith("<!-- runnable"):  # a marker stands on its own line
            continue
        where = f"{_rel(page)}:{index + 1}"
        if not RUNNABLE.fullmatch(line):
            problems.append(f"{where}: malformed marker {line!r}")
        elif index + 1 >= len(lines) or lines[index + 1] != "```sh":
            problems.append(f"{where}: the marker is not followed by a ```sh fence on the next line")
        elif not _fenced_block(lines, index + 1):
            problems.append(f"{where}: the ```sh block after the marker is empty or never closed")
    return problems


def runnable_blocks(page: Path) -> list[Block]:
    """The page's well-formed runnable blocks, in order."""
    lines = _lines(page)
    blocks = []
    for index, line in enumerate(lines):
        marker = RUNNABLE.fullmatch(line)
        if marker is None or index + 1 >= len(lines) or lines[index + 1] != "```sh":
            continue
        body = _fenced_block(lines, index + 1)
        if body:
            exit_code = int(marker.group("exit") or 0)
            blocks.append(Block(page, index + 1, "\n".join(body) + "\n", exit_code))
    return blocks


def _prose(page: Path) -> str:
    """The page without its fenced blocks and inline code, where links are written."""
    kept, fenced = [], False
    for line in _lines(page):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return INLINE_CODE.sub("", "\n".join(kept))


def link_targets(page: Path) -> list[tuple[str, Path]]:
    """Each relative link of the page: as written, and the file it names (anchor dropped)."""
    found = []
    for match in LINK.finditer(_prose(page)):
        target = match.group("target")
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = target.split("#", 1)[0]
        found.append((target, (page.parent / path).resolve()))
    return found


def test_the_readme_is_the_front_door_and_keeps_the_test_command() -> None:
    lines = _lines(README)
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move detail into docs/"
    assert lines.count(TEST_COMMAND) == 1, f"README.md needs exactly one {TEST_COMMAND} line (.ci/run reads it)"
    at = lines.index(TEST_COMMAND)
    assert lines[at + 1 : at + 2] == ["```sh"], f"the line after {TEST_COMMAND} must open a ```sh block"
    assert _fenced_block(lines, at + 1), "the test command block is empty or never closed"


def test_every_relative_link_points_to_an_existing_file() -> None:
    broken = [f"{_rel(page)}: {target}" for page in PAGES for target, path in link_targets(page) if not path.exists()]
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_every_docs_page_is_linked_from_the_index_and_the_readme() -> None:
    pages = {page.resolve() for page in PAGES if page != README}
    for linking, expected in ((INDEX, pages - {INDEX.resolve()}), (README, pages)):
        linked = {path for _, path in link_targets(linking)}
        missing = sorted(_rel(page) for page in expected - linked)
        assert not missing, f"{_rel(linking)} does not link: {', '.join(missing)}"


def test_every_runnable_marker_comes_right_before_a_sh_block() -> None:
    problems = [problem for page in PAGES for problem in marker_problems(page)]
    assert not problems, "\n".join(problems)
    assert any(runnable_blocks(page) for page in PAGES), "no runnable block at all: the engine test would run nothing"


RUNNABLE_PAGES = [page for page in PAGES if runnable_blocks(page)]


@pytest.mark.engine
@pytest.mark.usefixtures("docker_client")  # the engine and the lab image, or skip (fail under CI=true)
@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=[_rel(page) for page in RUNNABLE_PAGES])
def test_the_runnable_blocks_of_a_page_run_as_written(page: Path, tmp_path: Path) -> None:
    for name in LINKED_IN:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    for block in runnable_blocks(page):
        try:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=BLOCK_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            output = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode(errors="replace")
            pytest.fail(f"{block.where}: still running after {BLOCK_TIMEOUT_S} s\n{block.code}"
                        f"--- the last 2000 characters of its output ---\n{output[-2000:]}", pytrace=False)
        assert done.returncode == block.exit_code, (
            f"{block.where}: exited {done.returncode}, the page says {block.exit_code}\n{block.code}"
            f"--- the last 2000 characters of its output ---\n{done.stdout[-2000:]}"
        )
