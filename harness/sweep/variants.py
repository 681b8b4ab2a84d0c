"""The variants of a sweep: every combination of the ``--set`` values, each validated."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.scenario import Scenario, load_scenario
from harness.scenario.overrides import Setting, describe

#: More variants than this is most likely a typo in a --set.
MAX_VARIANTS = 256


@dataclass(frozen=True)
class Variant:
    """One combination of values, and the scenario it makes."""

    index: int
    changes: tuple[tuple[Setting, Any], ...]
    scenario: Scenario

    @property
    def label(self) -> str:
        return describe(self.changes)

    @property
    def folder(self) -> str:
        """The variant's result-set folder inside the sweep's: ``01-limits.memory-256Mi``."""
        text = "_".join(f"{setting.path}-{value}" for setting, value in self.changes)
        return f"{self.index:02d}-" + re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]

    def set_arguments(self) -> list[str]:
        """The ``--set`` arguments that make this variant from the file."""
        out = []
        for setting, value in self.changes:
            out += ["--set", f"{setting.path}={describe([(setting, value)]).split('=', 1)[1]}"]
        return out


def variants(file: str | Path, settings: list[Setting], repeat: int | None = None) -> list[Variant]:
    """Every combination of ``settings``' values, in the order given (the last varies
    fastest), each scenario validated now so a wrong value stops the sweep before it starts."""
    if not settings:
        raise UsageError("sweep: give at least one --set PATH=V1,V2 (e.g. limits.memory=256Mi,512Mi)")
    paths = [s.path for s in settings]
    if len(set(paths)) != len(paths):
        raise UsageError(f"sweep: --set {', '.join(p for p in paths if paths.count(p) > 1)} is given twice")
    combos = list(itertools.product(*(s.values for s in settings)))
    if len(combos) > MAX_VARIANTS:
        raise UsageError(f"sweep: {len(combos)} variants; at most {MAX_VARIANTS} (fewer values per --set)")
    out = []
    for index, values in enumerate(combos, 1):
        changes = tuple(zip(settings, values, strict=True))
        out.append(Variant(index, changes, load_scenario(file, repeat=repeat, changes=changes)))
    return out
