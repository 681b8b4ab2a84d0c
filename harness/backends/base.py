"""The backend interface: one method, ``launch``, like an httpx transport.

A backend starts the scenario's target and yields a :class:`TargetSession`: the address
the runner's client talks to, live figures for conditions and progress, and at the end
the run's :class:`~harness.evidence.RunEvidence`. The runner drives steps and the client
the same way whatever the backend, so nothing backend-specific leaks past here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from harness.evidence import RunEvidence
from harness.scenario import Scenario


@dataclass(frozen=True)
class LiveStatus:
    """What the progress line and step conditions need while a run goes on."""

    kills: int
    memory_mb: float | None
    allocated_mb: float | None
    exited: bool
    #: Why the backend lost sight of the engine mid-run (its event stream broke: the engine
    #: crashed or restarted), None while it watches. The run stops at once: what the engine
    #: did to the target meanwhile is unknown, so nothing of the run can be judged.
    engine_lost: str | None = None


class TargetSession(Protocol):
    """A running target: where to send requests, what it looks like now, what it left.

    ``base_url`` is where the client's requests go (through an ingress when the scenario
    has one); ``probe_url`` is where the health probe goes, straight to the target as a
    platform's probes do. Without an ingress they are the same.
    """

    base_url: str
    probe_url: str

    def live(self) -> LiveStatus:
        """Current kills (ground truth), memory, allocated MB and whether the target exited."""

    def finish(self) -> RunEvidence:
        """Stop collecting and return the evidence (without the runner's client records)."""


class Backend(Protocol):
    """Where scenarios run: ``docker`` locally, ``azure`` through the optional extra."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Engine/platform facts recorded in the result (name, version, cgroup version)."""

    def launch(self, scenario: Scenario, run: int) -> AbstractContextManager[TargetSession]:
        """Start the target for one run; leaving the context removes everything it made."""
