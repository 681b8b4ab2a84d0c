"""The four counts a run under a fault is judged on: exit code, false gaps, leaks, result set.

A *false gap* is a matrix row that says "gap" or "partial" for a source that, in the same
scenario with nothing injected, saw every kill the cgroup counter (the ground truth)
counted. Under a fault such a source either still sees the kills or says "unavailable"
with its reason; a miss it could not have avoided is never scored as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import docker
from pydantic import SerializerFunctionWrapHandler, WrapSerializer

from harness.backends.docker.owner import Owner
from harness.config import HarnessConfig
from harness.errors import ResultError
from harness.jsondata import from_data, to_data
from harness.result import ScenarioResult, load_result

#: Exit codes the CLI documents for a run that ended as it should: passed, an expectation
#: failed, a usage/config/engine error, interrupted. 3 is a bug; None is a hang.
CLEAR_EXITS = frozenset({0, 1, 2, 130})
MISSED = frozenset({"gap", "partial"})


@dataclass(frozen=True)
class Trial:
    """One run under one fault, judged."""

    fault: str
    scenario: str
    exit_code: int | None  # None: it did not end within its bound and was killed
    wall_s: float
    result: str  # "whole", "absent" or "broken: <why>"
    false_gaps: tuple[str, ...] = ()
    leaks: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()  # sources that said they could not look, with the reason
    kills: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return (self.exit_code in CLEAR_EXITS and not self.false_gaps and not self.leaks
                and not self.result.startswith("broken"))


def _with_ok(trial: Trial, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
    return {**write(trial), "ok": trial.ok}


#: A trial as the fault table's JSON writes it: its fields and whether it was clear (read
#: back, ``ok`` is ignored: it is computed again).
TrialEntry = Annotated[Trial, WrapSerializer(_with_ok)]


def trials_data(trials: Iterable[Trial]) -> list[dict[str, Any]]:
    """The trials as the fault table's JSON holds them (bench/results.json, a guest check's outcome)."""
    data: list[dict[str, Any]] = to_data(list(trials), list[TrialEntry])
    return data


def trials_from_data(data: object) -> list[Trial]:
    """Trials read back from :func:`trials_data`'s JSON (``ok`` is computed again, not read)."""
    return from_data(list[Trial], data)


def sources_that_saw_every_kill(baseline: Iterable[ScenarioResult]) -> set[str]:
    """The sources visible in every run of the fault-free results (runs with kills only)."""
    seen: set[str] | None = None
    for result in baseline:
        for run in result.runs:
            if not run.figures.oom_kills:
                continue
            visible = {row.source for row in run.matrix if row.verdict == "visible"}
            seen = visible if seen is None else seen & visible
    return seen or set()


def false_gaps(result: ScenarioResult, saw_every_kill: set[str]) -> list[str]:
    """Rows scored as a miss for a source that, with nothing injected, saw every kill."""
    found = []
    for index, run in enumerate(result.runs, 1):
        for row in run.matrix:
            if row.source in saw_every_kill and row.verdict in MISSED:
                found.append(f"run {index}: {row.source} {row.verdict} ({row.kills_seen}/{row.ground_truth_kills}"
                             f" kills; {row.note[:120]})")
    return found


def unavailable_sources(result: ScenarioResult) -> list[str]:
    """Each source a run marked unavailable, with the first words of its reason."""
    found = []
    for index, run in enumerate(result.runs, 1):
        for row in run.matrix:
            if row.verdict == "unavailable":
                found.append(f"run {index}: {row.source}: {row.note[:100]}")
    return found


def result_state(out: Path, exit_code: int | None) -> tuple[str, ScenarioResult | None]:
    """Whether the run's result set is whole, absent or broken, and the result when whole.

    A run that passed or failed an expectation (0, 1) must leave a whole set; any other
    ending may leave none, but never a half-written one or a staging folder beside it."""
    staging = sorted(p.name for p in out.parent.glob(f".{out.name}.*"))
    if staging:
        return f"broken: staging left beside the result: {', '.join(staging)}", None
    if not out.exists():
        if exit_code in (0, 1):
            return f"broken: no result set after exit {exit_code}", None
        return "absent", None
    missing = [name for name in ("result.json", "report.md", "matrix.txt") if not (out / name).is_file()]
    if missing:
        return f"broken: {', '.join(missing)} missing", None
    try:
        return "whole", load_result(out)
    except ResultError as exc:
        return f"broken: {exc}", None


def owned_by(client: docker.DockerClient, config: HarnessConfig, pid: int) -> list[str]:
    """Containers and networks on the engine that process ``pid`` made, as ``kind name (role)``."""
    key = f"{config.label}.owner"
    items: list[tuple[str, Any]] = [
        ("container", c) for c in client.containers.list(all=True, filters={"label": key}, ignore_removed=True)]
    items += [("network", n) for n in client.networks.list(filters={"label": key})]
    found = []
    for kind, item in items:
        labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
        owner = Owner.parse(labels.get(key, ""))
        if owner is not None and owner.pid == pid:
            found.append(f"{kind} {item.name} ({labels.get(config.label, '?')})")
    return found


def leftovers(client: docker.DockerClient, config: HarnessConfig, pid: int) -> list[str]:
    """What process ``pid`` left on the engine after it exited: everything it made must be
    gone at once. (The session's reaper carries no owner label: it removes itself 10 s after
    its last connection dropped, tested on its own in the clean-up tests.)"""
    return owned_by(client, config, pid)
