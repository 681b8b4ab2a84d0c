"""Read a scenario file and validate it into a :class:`Scenario`, or fail with one message.

This is the only place raw YAML exists. Every failure -- missing file, bad YAML, a wrong
field -- becomes a :class:`~harness.errors.ScenarioError` whose message names the file, the
field path as the user would write it (``steps[2].http.timeout``) and what is wrong, so
nobody has to read a pydantic traceback to fix a scenario.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import ScenarioError
from harness.scenario.model import PROCESS_KINDS, Scenario
from harness.scenario.monitoring import BASE_DIR
from harness.scenario.overrides import Setting, apply, describe
from harness.scenario.units import quote_value

MAX_REPORTED_ERRORS = 5


def load_scenario(
    path: str | Path, repeat: int | None = None, changes: Sequence[tuple[Setting, Any]] = (),
) -> Scenario:
    """Read and validate the scenario file at ``path``.

    The scenario's name defaults to the file stem. ``repeat``, when given (the CLI's
    ``--repeat``), replaces the file's own ``repeat`` and is validated like it; ``changes``
    (the CLI's ``--set``) set fields before the scenario is validated.
    """
    source = str(path)
    data = _read_yaml(Path(path), source)
    if repeat is not None:
        data = {**data, "repeat": repeat}
    if changes:
        data = apply(data, changes)
        try:
            return parse_scenario(data, source, name=Path(path).stem)
        except ScenarioError as exc:
            raise ScenarioError(f"{exc} (with --set {describe(changes)})") from None
    return parse_scenario(data, source, name=Path(path).stem)


def parse_scenario(data: Mapping[str, Any], source: str, name: str | None = None) -> Scenario:
    """Validate a scenario given as a mapping (YAML-shaped), e.g. one built in code or a test.

    ``source`` names where the data came from in error messages. ``name`` is used when the
    data has no ``name`` of its own; without either, the stem of ``source`` is used.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: {_not_a_mapping(data)}")
    if "name" not in data:
        data = {**data, "name": name if name is not None else Path(source).stem}
    try:
        return Scenario.model_validate(data, context={BASE_DIR: str(Path(source).parent)})
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {format_validation_error(exc)}") from None


def format_validation_error(exc: ValidationError) -> str:
    """Render pydantic's errors as ``path: problem`` items joined by "; " (at most five)."""
    items = [_format_one(error) for error in exc.errors()]
    unique = list(dict.fromkeys(items))
    shown = unique[:MAX_REPORTED_ERRORS]
    hidden = len(unique) - len(shown)
    text = "; ".join(shown)
    return f"{text}; and {hidden} more error{'s' if hidden > 1 else ''}" if hidden else text


# ---------------------------------------------------------------------------------------
# Reading


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error.

    Plain PyYAML keeps the last value silently, so a duplicated ``limits:`` or step option
    would run a different experiment from the one the reader of the file sees.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {quote_value(key)}", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_text(path: Path, source: str) -> str:
    if not path.exists():
        raise ScenarioError(f"{source}: no such scenario file")
    if path.is_dir():
        raise ScenarioError(f"{source}: is a directory, not a scenario file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{source}: is not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read: {exc.strerror or exc}") from None


def _read_yaml(path: Path, source: str) -> dict[str, Any]:
    """The file's top-level mapping; every way of not having one is a ScenarioError."""
    text = _read_text(path, source)
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: {_describe_yaml_error(exc)}") from None
    if data is None:
        raise ScenarioError(
            f"{source}: is empty (expected a mapping with target, limits and steps)"
        )
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: {_not_a_mapping(data)}")
    return data


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _not_a_mapping(data: object) -> str:
    kind = "a list" if isinstance(data, list) else quote_value(data)
    return f"the top level must be a mapping of keys (target, limits, steps, ...), got {kind}"


# ---------------------------------------------------------------------------------------
# Error messages


def _path(loc: tuple[int | str, ...]) -> str:
    """``("steps", 2, "http", "timeout")`` -> ``steps[2].http.timeout``.

    Two parts of pydantic's location are not keys the user wrote and are dropped: the
    process kind pydantic adds after ``process`` (the file may not name one), and the
    ``duration`` of ``- sleep: 2s``, which the file names only as ``sleep``.
    """
    parts: list[str] = []
    previous: int | str | None = None
    for index, item in enumerate(loc):
        if previous == "process" and item in PROCESS_KINDS:
            previous = item
            continue
        if item == "duration" and previous == "sleep" and index == len(loc) - 1:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
        previous = item
    return "".join(parts)


# Messages for pydantic's own error types, in the wording of the rest of the harness.
_MESSAGES: dict[str, str] = {
    "missing": "required key is missing",
    "int_type": "expected a whole number, got {input}",
    "int_parsing": "expected a whole number, got {input}",
    "int_from_float": "expected a whole number, got {input}",
    "float_type": "expected a number, got {input}",
    "float_parsing": "expected a number, got {input}",
    "string_type": "expected text, got {input}",
    "bool_type": "expected true or false, got {input}",
    "bool_parsing": "expected true or false, got {input}",
    "dict_type": "expected a mapping, got {input}",
    "model_type": "expected a mapping, got {input}",
    "model_attributes_type": "expected a mapping, got {input}",
    "list_type": "expected a list, got {input}",
    "literal_error": "{input} is not one of: {expected}",
    "greater_than": "must be more than {gt}, got {input}",
    "greater_than_equal": "must be at least {ge}, got {input}",
    "less_than": "must be less than {lt}, got {input}",
    "less_than_equal": "must be at most {le}, got {input}",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "extra_forbidden": "unknown key",
}


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    context = dict(error.get("ctx") or {})
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    template = _MESSAGES.get(kind)
    if template is None:
        return str(error["msg"])
    context["input"] = quote_value(error.get("input"))
    if "expected" in context:
        context["expected"] = str(context["expected"]).replace("'", "").replace(" or ", ", ")
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return str(error["msg"])


def _format_one(error: Mapping[str, Any]) -> str:
    path = _path(tuple(error["loc"]))
    message = _message(error)
    return f"{path}: {message}" if path else message
