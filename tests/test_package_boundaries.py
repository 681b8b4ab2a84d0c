"""The package's boundaries: the harness never imports the lab app or the reaper (both
run only in their images), and the lab imports nothing of the harness but the shared
cgroup reader, which is all its image carries."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harness"
LAB = ROOT / "labapp"  # installed as harness.lab
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
                 for p in _modules("reaper")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_lab_and_the_reaper_import_only_what_their_images_carry() -> None:
    for path in [*LAB.glob("*.py"), *(PACKAGE / "reaper").glob("*.py")]:
        own = "lab" if path.parent == LAB else path.parent.name
        harness = {i for i in _imports(path) if i == "harness" or i.startswith("harness.")}
        allowed = ("harness.cgroupfs", f"harness.{own}")
        stray = {i for i in harness if i != "harness" and not i.startswith(allowed)}
        assert not stray, (path.name, stray)


def test_the_installed_packages_are_the_folders() -> None:
    """pyproject lists the packages (the finder cannot see labapp/ mapped to harness.lab):
    every package folder is listed, and nothing else."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert config["package-dir"] == {"harness.lab": "labapp"} and (LAB / "__init__.py").is_file()
    assert sorted(config["packages"]) == sorted(folders | {"harness.lab"})
