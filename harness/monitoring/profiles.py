"""The two timing profiles of the monitoring stack.

``production`` is what most installations run: Prometheus scrapes and evaluates every
15 s, Alertmanager waits 30 s before a group's first notification. ``fast`` does the same
every second, so a run (and CI) learns in seconds what fires; the rules are not changed,
so a rule's own ``for:`` and range windows keep their meaning. Both are recorded in the
result with the latencies they gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from harness.evidence.alerts import AlertRule

ProfileName = Literal["fast", "production"]

#: Slack for an HTTP hop and a scheduling delay, before the time scale of a slow machine.
DELIVERY_SLACK_S = 2.0


@dataclass(frozen=True)
class Profile:
    """How often Prometheus scrapes and evaluates, and how Alertmanager groups."""

    name: str  # fast, production, or "yours" (read from your configuration)
    scrape_interval_s: float
    evaluation_interval_s: float
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float

    def worst_case_s(self, for_s: float = 0.0) -> float:
        """The longest a rule can take from a series' change to a notification: one
        scrape to read the change, an evaluation to see it (a second one after ``for``),
        the rule's ``for``, Alertmanager's ``group_wait``, and delivery slack."""
        return (self.scrape_interval_s + 2 * self.evaluation_interval_s + for_s + self.group_wait_s
                + DELIVERY_SLACK_S)


PROFILES: dict[ProfileName, Profile] = {
    "production": Profile("production", 15.0, 15.0, 30.0, 300.0, 4 * 3600.0),
    "fast": Profile("fast", 1.0, 1.0, 1.0, 1.0, 4 * 3600.0),
}


def duration_text(seconds: float) -> str:
    """A duration as Prometheus's configuration writes it (``15s``, ``500ms``, ``4h``)."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def settle_wait_s(profile: Profile, rules: Sequence[AlertRule], since_last_kill_s: float, bound_s: float,
                  slack_s: float = 0.0) -> float:
    """How long to wait now for every rule to decide: each rule's worst case after the
    last kill (``since_last_kill_s`` ago, 0 or less), within ``bound_s``. A rule whose
    ``for`` cannot elapse within the bound is waited for only as long as it takes to
    become pending: pending at the end, it is judged unavailable, never a gap."""
    longest = 0.0
    for rule in rules:
        worst = profile.worst_case_s(rule.for_s) + slack_s
        if worst + since_last_kill_s > bound_s:
            worst = profile.worst_case_s(0.0) + slack_s
        longest = max(longest, worst)
    return max(0.0, min(bound_s, longest + since_last_kill_s))
