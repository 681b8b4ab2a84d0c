"""The scenarios shipped with the harness, and how a command-line argument names one.

The shipped files live in ``harness/scenario/shipped`` (package data, so an installed
harness has them; the clone's ``scenarios/`` folder points there). ``harness run gradual``
runs the shipped ``gradual.yaml``; an argument that is an existing file (or has a path's
shape) is a file, so a user's own ``gradual.yaml`` in the current folder wins over the
shipped one only when named as a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.errors import ScenarioError

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"


@dataclass(frozen=True)
class ShippedScenario:
    """One shipped scenario: its name (the file stem), file and one-line description."""

    name: str
    path: Path
    summary: str


def shipped_scenarios(folder: Path = SHIPPED_DIR) -> list[ShippedScenario]:
    """Every shipped scenario, sorted by name."""
    return [ShippedScenario(path.stem, path, _summary(path)) for path in sorted(folder.glob("*.yaml"))]


def resolve_scenario(argument: str, folder: Path = SHIPPED_DIR) -> Path:
    """The scenario file that ``argument`` names: an existing file, or a shipped scenario's
    name (``gradual`` or ``gradual.yaml``)."""
    path = Path(argument)
    if path.is_file():
        return path
    shipped = {s.name: s.path for s in shipped_scenarios(folder)}
    stem = argument[:-5] if argument.endswith(".yaml") else argument
    if "/" not in argument and stem in shipped:
        return shipped[stem]
    names = ", ".join(sorted(shipped)) or "none"
    if "/" in argument or argument.endswith((".yaml", ".yml")):
        raise ScenarioError(f"{argument}: no such scenario file (shipped scenarios: {names})")
    raise ScenarioError(f"{argument}: neither a scenario file nor a shipped scenario (shipped: {names}); "
                        "`harness scenarios` lists them")


def names_a_scenario(argument: str, folder: Path = SHIPPED_DIR) -> bool:
    """Whether ``argument`` is a scenario (a YAML file or a shipped name) rather than a result."""
    if argument.endswith((".yaml", ".yml")):
        return True
    path = Path(argument)
    return not path.exists() and "/" not in argument and (folder / f"{argument}.yaml").is_file()


def shipped_text(name: str, folder: Path = SHIPPED_DIR) -> str:
    """The text of the shipped scenario ``name``, to print, copy and edit."""
    path = folder / f"{name.removesuffix('.yaml')}.yaml"
    if not path.is_file():
        names = ", ".join(s.name for s in shipped_scenarios(folder))
        raise ScenarioError(f"{name}: no shipped scenario of that name (shipped: {names})")
    return path.read_text()


def _summary(path: Path) -> str:
    """The file's ``description``, on one line; empty when it has none or cannot be read."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return ""
    text = data.get("description", "") if isinstance(data, dict) else ""
    return " ".join(str(text).split())
