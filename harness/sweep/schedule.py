"""Which variant may start now: the sum of the running variants' CPU and memory limits
must fit the engine's, and at most ``parallel`` run at once. Pure, so it is tested alone."""

from __future__ import annotations

from dataclasses import dataclass

from harness.scenario import Scenario


@dataclass(frozen=True)
class Capacity:
    """What the engine offers (``docker info``: NCPU, MemTotal) and the user's cap."""

    cpus: float
    memory_bytes: int
    parallel: int

    def describe(self) -> str:
        return f"{self.cpus:g} CPUs, {self.memory_bytes / 2**30:.1f} GiB, at most {self.parallel} at once"


@dataclass(frozen=True)
class Demand:
    """What one variant's target may take: its limits (a variant with no CPU limit may
    take every CPU, so it runs alone)."""

    cpus: float
    memory_bytes: int


def demand(scenario: Scenario, capacity: Capacity) -> Demand:
    cpus = scenario.limits.cpus if scenario.limits.cpus else capacity.cpus
    return Demand(float(cpus), int(scenario.limits.memory or capacity.memory_bytes))


def admits(running: list[Demand], candidate: Demand, capacity: Capacity) -> bool:
    """Whether ``candidate`` may start beside ``running``. One always may when nothing
    runs, so a variant larger than the engine still runs, alone."""
    if not running:
        return True
    if len(running) >= capacity.parallel:
        return False
    cpus = sum(d.cpus for d in running) + candidate.cpus
    memory = sum(d.memory_bytes for d in running) + candidate.memory_bytes
    return cpus <= capacity.cpus + 1e-9 and memory <= capacity.memory_bytes
