"""``--set PATH=VALUE``: change one field of a scenario file from the command line.

A path is the field's dotted name as the file spells it (``limits.memory``,
``target.process.workers``, ``steps.1.http.json.target_mb``: a number picks a list item).
Values are read as YAML scalars (``2`` is a number, ``256Mi`` a string, ``true`` a bool).
The changed scenario is validated like the file, so a wrong path or value is refused
naming the ``--set`` it came from before anything starts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from harness.errors import UsageError, first_line


@dataclass(frozen=True)
class Setting:
    """One ``--set``: a dotted path and the values it takes (one for ``run``, several for ``sweep``)."""

    path: str
    values: tuple[Any, ...]
    text: str  # as the user wrote it, for error messages

    @classmethod
    def parse(cls, text: str, many: bool = True) -> Setting:
        """``PATH=V1,V2`` (or ``PATH=V`` when not ``many``); a YAML flow value such as
        ``{a: 1, b: 2}`` or ``[1, 2]`` is one value, commas and all."""
        path, sep, raw = text.partition("=")
        path = path.strip()
        if not sep or not path or not raw.strip():
            raise UsageError(f"--set {text}: expected PATH=VALUE{'[,VALUE...]' if many else ''}, "
                             "e.g. limits.memory=256Mi")
        if any(not part for part in path.split(".")):
            raise UsageError(f"--set {text}: {path!r} is not a dotted field path")
        parts = [raw] if (not many or raw.lstrip()[:1] in "[{") else raw.split(",")
        values = tuple(_scalar(part.strip(), text) for part in parts)
        if many and len(set(map(repr, values))) != len(values):
            raise UsageError(f"--set {text}: a value is given twice")
        return cls(path, values, text)


def apply(data: Mapping[str, Any], changes: Sequence[tuple[Setting, Any]]) -> dict[str, Any]:
    """A copy of the scenario's YAML data with each ``(setting, value)`` set."""
    out = copy.deepcopy(dict(data))
    for setting, value in changes:
        _set(out, setting, value)
    return out


def describe(changes: Sequence[tuple[Setting, Any]]) -> str:
    """``limits.memory=256Mi target.process.workers=2``: a variant's name in tables."""
    return " ".join(f"{setting.path}={_text(value)}" for setting, value in changes)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _scalar(raw: str, text: str) -> Any:
    if not raw:
        raise UsageError(f"--set {text}: an empty value")
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise UsageError(f"--set {text}: {raw!r} is not a value ({first_line(exc)})") from None


def _set(data: dict[str, Any], setting: Setting, value: Any) -> None:
    node: Any = data
    parts = setting.path.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UsageError(f"--set {setting.text}: {where}: the list has items 0 to {len(node) - 1}")
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
            continue
        if not isinstance(node, dict):
            raise UsageError(f"--set {setting.text}: {'.'.join(parts[:depth])} is a value, not a section")
        if last:
            node[part] = value
        else:
            node = node.setdefault(part, {})
