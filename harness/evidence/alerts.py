"""Typed records of what a run's alerting did: the rules evaluated, each notification
Alertmanager delivered, when Prometheus had each rule pending or firing, and the values of
the series the rules read.

Times are Unix seconds. A series that was never scraped is listed in ``series_absent``
with the reason: a rule that reads it could not look, which is never a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.evidence.model import SourceStatus
from harness.jsondata import Seconds6


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as Prometheus evaluated it.

    ``origin`` says where it comes from (a public rule set and the rule's name there, or
    the user's file); ``reads`` are the metric names its expression selects."""

    name: str
    expr: str
    for_s: float
    origin: str
    file: str = ""
    group: str = ""
    reads: tuple[str, ...] = ()


def parse_time(text: object) -> float | None:
    """An RFC 3339 time from Alertmanager or Prometheus as Unix seconds; None for Go's zero
    time (``0001-01-01T00:00:00Z``, "not ended") or nothing."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    value = text.strip().replace("Z", "+00:00")
    # Go writes up to nine fractional digits; Python reads six.
    head, dot, rest = value.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(value).timestamp()


@dataclass(frozen=True)
class AlertNotification:
    """One alert of one webhook notification, as it arrived."""

    received_t: Seconds6
    rule: str
    status: str  # "firing" or "resolved"
    starts_at: float | None
    ends_at: float | None
    fingerprint: str
    labels: Mapping[str, str] = field(default_factory=dict)


def notifications_from_webhook(body: Mapping[str, Any], received_t: float) -> list[AlertNotification]:
    """Alertmanager's webhook body (version 4) as one record per alert."""
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise ValueError("a webhook body without an 'alerts' list")
    found = []
    for alert in alerts:
        labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
        found.append(AlertNotification(received_t, labels.get("alertname", ""), str(alert.get("status", "")),
                                       parse_time(alert.get("startsAt")), parse_time(alert.get("endsAt")),
                                       str(alert.get("fingerprint", "")), labels))
    return found


@dataclass(frozen=True)
class RuleState:
    """When Prometheus first had a rule pending and firing (its ``ALERTS`` series)."""

    rule: str
    pending_at: float | None = None
    firing_at: float | None = None


@dataclass(frozen=True)
class SeriesPoints:
    """One series a rule reads, as Prometheus stored it during the run."""

    metric: str
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class AlertEvidence:
    """What the run's monitoring stack did.

    ``status`` is the stack's own (unavailable when Prometheus or Alertmanager could not be
    run or read, or the receiver lost a notification); ``series_absent`` maps each metric a
    rule reads but that was never scraped to the reason. ``started_at`` and ``ended_at``
    are when the stack was ready and when it was read for the last time. ``waited_s`` is how long the run
    waited after its steps for the rules to decide, within ``wait_bound_s``; ``history_s``
    how much past Prometheus was given at start (the series' first values, so ``offset``
    and long windows mean what they say). ``source`` is ``stack`` for the stack the harness
    ran, else which existing Prometheus was read (its series are not the harness's)."""

    profile: Mapping[str, Any]
    rules: tuple[AlertRule, ...]
    notifications: tuple[AlertNotification, ...] = ()
    states: tuple[RuleState, ...] = ()
    series: tuple[SeriesPoints, ...] = ()
    series_absent: Mapping[str, str] = field(default_factory=dict)
    status: SourceStatus = field(default_factory=SourceStatus.ok)
    started_at: float = 0.0
    ended_at: float = 0.0
    waited_s: float = 0.0
    wait_bound_s: float = 0.0
    history_s: float = 0.0
    stack: Mapping[str, Any] = field(default_factory=dict)
    source: str = "stack"

    @property
    def own_stack(self) -> bool:
        return self.source == "stack"

    def worst_case_s(self) -> float:
        """The longest a rule without ``for`` can take from a kill to its notification
        under the profile (one scrape, two evaluations, Alertmanager's group_wait)."""
        p = self.profile
        return (float(p.get("scrape_interval_s", 0.0)) + 2 * float(p.get("evaluation_interval_s", 0.0))
                + float(p.get("group_wait_s", 0.0)))

    def state(self, rule: str) -> RuleState:
        return next((s for s in self.states if s.rule == rule), RuleState(rule))
