"""The ``monitoring:`` section: a real Prometheus and Alertmanager beside the run, and the
alerting rules they evaluate.

A rules file is named by path (relative to the scenario file) and read once, at load:
the model keeps its path and its text, so a scenario sent to the cgroup v2 guest carries
its rules with it. The file must be Prometheus's rules format; whether its PromQL is valid
is ``promtool``'s call before the run starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, StrictBool, ValidationError, ValidationInfo, model_validator

from harness.errors import ScenarioError
from harness.evidence.alerts import AlertRule
from harness.monitoring.rules import RulesText, parse_rules, shipped_rules
from harness.scenario.fields import Duration, FrozenModel, seconds_within

if TYPE_CHECKING:
    from harness.scenario.model import Scenario

#: The validation context key holding the scenario file's folder.
BASE_DIR = "base_dir"


def _read_rules_file(value: Any, info: ValidationInfo) -> Any:
    """A path becomes ``{path, text}``, read relative to the scenario file's folder."""
    if not isinstance(value, str):
        return value
    base = Path((info.context or {}).get(BASE_DIR) or ".")
    path = Path(value) if Path(value).is_absolute() else base / value
    try:
        return {"path": str(path), "text": path.read_text()}
    except OSError as exc:
        raise ValueError(f"cannot read rules file {path}: {exc.strerror or exc}") from None


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError(f"{value!r} is not an http(s) URL (like http://127.0.0.1:9090)")
    return value.rstrip("/")


class RulesFile(FrozenModel):
    """One rules file: where it was read from, and its text."""

    path: str
    text: str

    @model_validator(mode="after")
    def _is_rules_file(self) -> RulesFile:
        try:
            parse_rules(self.text, self.path)
        except ScenarioError as exc:
            raise ValueError(str(exc)) from None
        return self

    def as_text(self) -> RulesText:
        return RulesText(self.path, self.text)


class Monitoring(FrozenModel):
    """Which rules to evaluate and how fast.

    ``profile``: ``fast`` (scrape, evaluate and group every 1 s) or ``production``
    (15 s, 15 s, group_wait 30 s). ``shipped_rules``: evaluate the shipped rule set.
    ``rules``: the user's own rules files. ``wait``: the longest the run waits after its
    steps for the slowest rule to decide; a rule whose ``for`` does not fit is judged
    unavailable when it was pending, never a gap. ``prometheus_url`` (and
    ``alertmanager_url``): start no stack, read your existing Prometheus (and Alertmanager)
    instead, read-only; its loaded rules become the rows."""

    profile: Literal["fast", "production"] = "fast"
    shipped_rules: StrictBool = True
    rules: list[Annotated[RulesFile, BeforeValidator(_read_rules_file)]] = []
    wait: Annotated[Duration, seconds_within(1.0, 3600.0)] = 300.0
    prometheus_url: Annotated[str, AfterValidator(_http_url)] | None = None
    alertmanager_url: Annotated[str, AfterValidator(_http_url)] | None = None

    @property
    def external(self) -> bool:
        """True when the run reads an existing Prometheus instead of starting a stack."""
        return self.prometheus_url is not None

    @model_validator(mode="after")
    def _external_alone(self) -> Monitoring:
        if self.alertmanager_url is not None and self.prometheus_url is None:
            raise ValueError("alertmanager_url needs prometheus_url (the rules are your Prometheus's)")
        if self.prometheus_url is not None and self.rules:
            raise ValueError("rules files go to the stack the harness starts; with prometheus_url the rules are "
                             "the ones your Prometheus has loaded")
        return self

    @model_validator(mode="after")
    def _some_rule(self) -> Monitoring:
        if self.external:
            return self
        if not self.shipped_rules and not self.rules:
            raise ValueError("no rules to evaluate: give rules files or leave shipped_rules on")
        names = [rule.name for rule in self.alert_rules()]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"alert names given twice: {', '.join(twice)} (each rule is a row of the matrix)")
        return self

    def rule_texts(self) -> list[RulesText]:
        """Every rules file Prometheus gets: the shipped set first, then the user's."""
        from harness.monitoring.rules import SHIPPED_RULES

        shipped = [RulesText(SHIPPED_RULES.name, SHIPPED_RULES.read_text())] if self.shipped_rules else []
        return shipped + [file.as_text() for file in self.rules]

    def alert_rules(self) -> list[AlertRule]:
        """Every alerting rule, shipped first, then the user's files in order (none known
        before the run when they are your Prometheus's)."""
        if self.external:
            return []
        rules = shipped_rules() if self.shipped_rules else []
        for file in self.rules:
            rules += parse_rules(file.text, file.path)
        return rules


def add_monitoring(scenario: Scenario, profile: str | None = None,
                   rules: Sequence[str | Path] | None = None) -> Scenario:
    """``scenario`` with a monitoring section: its own with ``profile`` and the extra
    ``rules`` files (read relative to the working folder), or a new one. Unchanged when
    neither is given (``harness run --monitoring [PROFILE] --rules FILE``, the plugin's
    ``run(..., monitoring=, rules=)``)."""
    if profile is None and not rules:
        return scenario
    given: dict[str, Any] = scenario.monitoring.model_dump() if scenario.monitoring is not None else {}
    if profile is not None:
        given["profile"] = profile
    given["rules"] = [*given.get("rules", []), *(str(Path(r).resolve()) for r in rules or [])]
    try:
        monitoring = Monitoring.model_validate(given, context={BASE_DIR: "."})
    except ValidationError as exc:
        from harness.scenario.loader import format_validation_error

        raise ScenarioError(f"{scenario.name}: monitoring: {format_validation_error(exc)}") from None
    return scenario.with_monitoring(monitoring)
