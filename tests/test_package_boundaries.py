"""The package's boundaries: the harness never imports the lab app or the reaper (both
run only in their images), and the lab imports nothing of the harness but the shared
cgroup reader, which is all its image carries."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "harness"
IMAGE_ONLY = ("harness.lab", "harness.reaper")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _modules(*exclude: str) -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if not any(part in p.relative_to(PACKAGE).parts[:1] for part in exclude)]


def test_the_harness_imports_neither_the_lab_nor_the_reaper() -> None:
    offenders = {str(p.relative_to(PACKAGE)): sorted(i for i in _imports(p) if i.startswith(IMAGE_ONLY))
                 for p in _modules("lab", "reaper")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_lab_and_the_reaper_import_only_what_their_images_carry() -> None:
    for path in [*(PACKAGE / "lab").glob("*.py"), *(PACKAGE / "reaper").glob("*.py")]:
        own = path.parent.name
        harness = {i for i in _imports(path) if i == "harness" or i.startswith("harness.")}
        allowed = ("harness.cgroupfs", f"harness.{own}")
        stray = {i for i in harness if i != "harness" and not i.startswith(allowed)}
        assert not stray, (path.name, stray)
