"""Dependencies are declared where they are used, and the ones the harness leans on in ways
their authors do not promise (private attributes) fail here, loudly, when they change."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

#: Import name -> distribution, where they differ or the import belongs to an extra.
DISTRIBUTION = {"yaml": "pyyaml", "azure": "azure-identity", "matplotlib": "matplotlib", "pytest": "pytest"}


def _requirements(extra: str | None = None) -> dict[str, Requirement]:
    lines = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    found = [Requirement(line) for line in lines]
    return {r.name.lower(): r for r in found}


def _third_party_imports(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "harness"}


def test_every_import_of_the_harness_is_declared() -> None:
    declared = set(_requirements())
    for extra in PROJECT["optional-dependencies"]:
        declared |= set(_requirements(extra))
    undeclared = {name for name in _third_party_imports(ROOT / "harness")
                  if DISTRIBUTION.get(name, name).lower() not in declared}
    assert undeclared == set()


def test_the_lab_extra_installs_what_the_lab_image_installs() -> None:
    image = {Requirement(line).name.lower(): str(Requirement(line).specifier)
             for line in (ROOT / "labapp" / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    extra = {name: str(r.specifier) for name, r in _requirements("lab").items()}
    assert extra == image
    assert all(re.fullmatch(r"==[\w.]+", spec) for spec in image.values()), "the image pins exact versions"


def test_testcontainers_is_the_version_the_reaper_hand_off_was_written_for() -> None:
    """harness/backends/docker/reaper.py sets testcontainers' Reaper class attributes; a
    version outside the declared range, or a Reaper without them, breaks the hand-off."""
    from testcontainers.core.container import Reaper

    allowed: SpecifierSet = _requirements()["testcontainers"].specifier
    assert version("testcontainers") in allowed
    for name in ("_instance", "_container", "_socket"):
        assert name in vars(Reaper), f"testcontainers' Reaper has no {name}: the reaper hand-off needs rewriting"
    assert callable(getattr(Reaper, "get_instance", None))


def test_lint_tools_are_pinned_in_dev_not_in_test() -> None:
    dev, test = _requirements("dev"), _requirements("test")
    assert {"ruff", "mypy"} <= set(dev) and not {"ruff", "mypy"} & set(test)
    assert all(str(dev[name].specifier).startswith("==") for name in ("ruff", "mypy"))


def test_the_azure_extra_is_bounded_to_the_major_versions_the_code_is_written_for() -> None:
    for name, r in _requirements("azure").items():
        assert any(spec.operator == "<" for spec in r.specifier), f"{name} has no upper bound"
