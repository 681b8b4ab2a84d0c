"""Alerting rules: the shipped set, the user's files, what each rule reads, and
``promtool check rules``.

A rules file is Prometheus's own format (``groups: [{name, rules: [{alert, expr, for}]}]``).
It is parsed once, here, into :class:`AlertRule` records; Prometheus itself evaluates the
files as they are. Each shipped rule names its origin in ``annotations.source``; a user's
rule is "your rules: FILE". Recording rules are passed to Prometheus but are not rows.

Whether a rules file is valid PromQL is ``promtool``'s call, not this module's: every file
is checked by the monitoring image's promtool before anything starts
(:func:`harness.backends.docker.monitoring.check_rules`), and :func:`promtool_error` puts
the user's file back into its complaint, with the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.errors import ScenarioError
from harness.evidence.alerts import AlertRule

#: The shipped rule set, package data beside this module.
SHIPPED_RULES = Path(__file__).resolve().parent / "shipped_rules.yaml"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}

# What an expression's text holds besides metric names: strings, label matchers, range
# and subquery brackets, grouping clauses, numbers, and the language's own words.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE)
_OFFSET = re.compile(r"\boffset\s+-?\w+", re.IGNORECASE)
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan", "atan2", "start", "end"}


def parse_duration(text: str) -> float:
    """A Prometheus duration (``15m``, ``1h30m``, ``0s``) in seconds."""
    text = str(text).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration (like 30s, 15m, 1h30m)")
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def metrics_read(expr: str) -> tuple[str, ...]:
    """The metric names an expression selects, in the order they appear (no duplicates)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    names = [m for m in _IDENTIFIER.findall(text) if m.lower() not in _KEYWORDS]
    selected = [m.group(1) for m in re.finditer(r'__name__\s*=\s*"([^"]+)"', expr)]
    return tuple(dict.fromkeys(names + selected))


def longest_lookback_s(expr: str) -> float:
    """How far back an expression reads: for each selector, its range window or subquery
    plus its ``offset``; the longest of them. That much history must Prometheus hold for
    the rule to mean what it says."""
    text = _STRINGS.sub('""', expr)
    found = [0.0]
    for match in re.finditer(r"\[([^\]]*)\](?:\s+offset\s+(\w+))?|\boffset\s+(\w+)", text, re.IGNORECASE):
        window, after_range, alone = match.groups()
        head = (window or "").split(":", 1)[0].strip()
        span = parse_duration(head) if head else 0.0
        shift = parse_duration(after_range or alone) if (after_range or alone) else 0.0
        found.append(span + shift)
    return max(found)


def parse_rules(text: str, file: str, origin: str | None = None) -> list[AlertRule]:
    """The alerting rules of one rules file's text (``file`` names it in errors).

    ``origin`` is every rule's origin; None takes each rule's ``annotations.source``
    (the shipped set's way), else "your rules: FILE"."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        raise ScenarioError(f"{file}:{where} not a YAML rules file ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ScenarioError(f"{file}: a rules file needs a top-level 'groups:' list (Prometheus's format)")
    rules: list[AlertRule] = []
    for g, group in enumerate(data["groups"]):
        if not isinstance(group, dict) or not isinstance(group.get("rules", []), list):
            raise ScenarioError(f"{file}: groups[{g}] needs 'name' and a 'rules' list")
        for r, rule in enumerate(group.get("rules") or []):
            if not isinstance(rule, dict) or "alert" not in rule:
                continue  # a recording rule: Prometheus evaluates it; it is no row
            where = f"{file}: groups[{g}].rules[{r}] ({rule.get('alert')})"
            if not isinstance(rule.get("expr"), str | int | float):
                raise ScenarioError(f"{where}: 'expr' is missing")
            try:
                given = rule.get("for", "0s")
                for_s = 0.0 if given in (0, "0") else parse_duration(str(given))
            except ValueError as exc:
                raise ScenarioError(f"{where}: for: {exc}") from None
            annotations = rule.get("annotations") or {}
            source = origin or str(annotations.get("source") or f"your rules: {Path(file).name}")
            expr = str(rule["expr"]).strip()
            rules.append(AlertRule(str(rule["alert"]), expr, for_s, source, file, str(group.get("name", "")),
                                   metrics_read(expr)))
    return rules


def shipped_rules() -> list[AlertRule]:
    """The shipped rule set (each rule's origin from its ``annotations.source``)."""
    return parse_rules(SHIPPED_RULES.read_text(), "shipped_rules.yaml")


# ---------------------------------------------------------------------------------------
# promtool


@dataclass(frozen=True)
class RulesText:
    """One rules file as it goes into the monitoring containers: the user's path (for
    errors and origins) and its text."""

    path: str
    text: str


def container_names(files: list[RulesText]) -> list[str]:
    """Where each file lies in the containers: numbered, so two files of one name differ."""
    return [f"{i:02d}-{Path(f.path).name}" for i, f in enumerate(files)]


RULES_DIR = "/etc/oom-harness/rules"


def promtool_error(output: str, names: list[str], files: list[RulesText]) -> str:
    """promtool's complaint with the container's paths put back as the user's."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("Checking")
             and "SUCCESS" not in line and line.strip() != "FAILED:"]
    text = "; ".join(dict.fromkeys(lines)) or output.strip() or "promtool check rules failed"
    for name, file in zip(names, files, strict=True):
        text = text.replace(f"{RULES_DIR}/{name}", file.path)
    return f"rules file refused by promtool: {text}"
