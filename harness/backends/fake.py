"""A scripted backend: the runner's step logic without Docker.

A real backend starts a container and reads the machine's signals; this one plays back a
script. Its sessions report a scripted sequence of :class:`LiveStatus` values (so a
``wait: {until: {kills: 1}}`` step sees the kill after N looks) and hand back a scripted
:class:`RunEvidence` at the end. HTTP never leaves the process: pass an
``httpx.MockTransport`` to :func:`harness.runner.run_scenario` and every step request and
health probe goes to its handler.

Use it to test a scenario's expectations, or code built on the runner, in milliseconds::

    script = FakeScript(live=kills_after(3), evidence=scripted_evidence(kill_times=[2.0]))
    result = run_scenario(scenario, FakeBackend(script), show_progress=False,
                          transport=httpx.MockTransport(handler))

Each call to ``live()`` advances the script by one entry and the last entry repeats, so
run with ``show_progress=False``: the progress line would call ``live()`` from its own
thread at its own pace.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.backends.base import LiveStatus
from harness.evidence import Kill, Observation, RunEvidence, SourceStatus
from harness.scenario import Scenario
from harness.sources import source_ids

FAKE_URL = "http://fake.invalid"
IDLE = LiveStatus(kills=0, memory_mb=None, allocated_mb=None, exited=False)


def kills_after(calls: int, kills: int = 1, exited: bool = False) -> list[LiveStatus]:
    """A live sequence with no kill for ``calls`` looks, then ``kills`` kills from then on."""
    return [IDLE] * calls + [LiveStatus(kills=kills, memory_mb=None, allocated_mb=None, exited=exited)]


def scripted_evidence(
    kill_times: Sequence[float] = (),
    observations: Iterable[Observation] = (),
    unavailable: dict[str, str] | None = None,
    started_at: float = 0.0,
    ended_at: float = 60.0,
) -> RunEvidence:
    """Evidence of a run whose ground truth saw a kill at each of ``kill_times``.

    The cgroup counter gets one ``oom_kill`` observation per kill; every other source is
    marked available and sees only the ``observations`` given. ``unavailable`` maps source
    ids to the reason they could not be read, as a backend on a limited machine reports.
    """
    unavailable = unavailable or {}
    status = {source: SourceStatus.unavailable(unavailable[source]) if source in unavailable
              else SourceStatus.ok() for source in source_ids()}
    counter = [Observation("cgroup", t, "oom_kill", True, {"counter": i + 1})
               for i, t in enumerate(kill_times)] if "cgroup" not in unavailable else []
    return RunEvidence(
        run=1, backend="fake", started_at=started_at, ended_at=ended_at, memory_limit_bytes=None,
        observations=sorted([*counter, *observations], key=lambda o: o.t),
        kills=[Kill(t=t, detected_at=t) for t in kill_times], status=status,
    )


@dataclass(frozen=True)
class FakeScript:
    """What every run of a fake target does.

    Attributes:
        live: the values successive ``live()`` calls return; the last one repeats.
        evidence: the evidence a run leaves, or a function of the run number giving it.
            Each run gets its own copy, so the runner's additions never leak between runs.
        base_url: where the runner's client sends requests (only a transport sees them).
    """

    live: Sequence[LiveStatus] = (IDLE,)
    evidence: RunEvidence | Callable[[int], RunEvidence] = field(default_factory=scripted_evidence)
    base_url: str = FAKE_URL

    def evidence_for(self, run: int) -> RunEvidence:
        """A fresh copy of the scripted evidence, numbered ``run``."""
        scripted = self.evidence(run) if callable(self.evidence) else self.evidence
        return dataclasses.replace(copy.deepcopy(scripted), run=run)


class FakeSession:
    """One scripted run: a base URL, the live sequence and the evidence at the end."""

    def __init__(self, script: FakeScript, run: int) -> None:
        self.base_url = script.base_url
        self.probe_url = script.base_url
        self.run = run
        self.live_calls = 0
        self.finished = False
        self._script = script
        self._lock = threading.Lock()

    def live(self) -> LiveStatus:
        """The next scripted status (thread-safe); the last one repeats."""
        with self._lock:
            sequence = self._script.live or (IDLE,)
            status = sequence[min(self.live_calls, len(sequence) - 1)]
            self.live_calls += 1
            return status

    def finish(self) -> RunEvidence:
        """The scripted evidence of this run."""
        self.finished = True
        return self._script.evidence_for(self.run)


class FakeBackend:
    """A :class:`~harness.backends.base.Backend` that plays back a :class:`FakeScript`.

    ``sessions`` keeps every session it launched and ``active`` counts the ones still
    inside their ``with`` block, so tests can check that the runner always leaves it.
    """

    name = "fake"

    def __init__(self, script: FakeScript | None = None, engine: dict[str, Any] | None = None) -> None:
        self.script = script or FakeScript()
        self.engine = engine or {"name": "fake", "version": "0", "cgroup_version": "n/a"}
        self.sessions: list[FakeSession] = []
        self.active = 0

    def describe(self) -> dict[str, Any]:
        """The scripted engine facts recorded in the result."""
        return dict(self.engine)

    @contextmanager
    def launch(self, scenario: Scenario, run: int) -> Iterator[FakeSession]:
        """A new session for ``run``; ``active`` drops again when the block is left."""
        session = FakeSession(self.script, run)
        self.sessions.append(session)
        self.active += 1
        try:
            yield session
        finally:
            self.active -= 1
