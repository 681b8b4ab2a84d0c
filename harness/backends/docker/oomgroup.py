"""Group OOM kill, as Kubernetes 1.28 and later set it on cgroup v2.

A kubelet of Kubernetes 1.28 or later writes ``memory.oom.group=1`` in every container's
cgroup on cgroup v2 (before 1.32's ``singleProcessOOMKill`` option, always): when the kernel
OOM-kills one process, it kills every process of the container with it. Docker never sets
it, so the harness writes it itself, right after the container starts and after every
restart of the same container (the cgroup is made anew each time). A kubelet's runtime
sets it before the container's first process runs; here it is set a few milliseconds
after, which only matters for an OOM in the first milliseconds of a start.
"""

from __future__ import annotations

import time

from harness.cgroupfs import CgroupMemory
from harness.errors import EngineError, ScenarioError

FILE = "memory.oom.group"


def require_cgroup_v2(scenario_name: str, cgroup_version: str) -> None:
    """Refuse a group-kill scenario on an engine without cgroup v2, before anything starts."""
    if cgroup_version != "2":
        raise ScenarioError(
            f"{scenario_name}: limits.oom_group needs cgroup v2 ({FILE} does not exist on cgroup "
            f"v{cgroup_version}, which this engine runs): run it in the cgroup v2 guest with --vm")


def enable_group_kill(cgroup: CgroupMemory | None, timeout_s: float = 2.0) -> None:
    """Write ``memory.oom.group=1`` in the container's cgroup (retried while a restarted
    container's cgroup is being made)."""
    if cgroup is None:
        raise EngineError(f"limits.oom_group: the container's cgroup was not found, so {FILE} cannot be set")
    if cgroup.version != 2:
        raise ScenarioError(f"limits.oom_group needs cgroup v2; the container's cgroup is v{cgroup.version}")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            (cgroup.path / FILE).write_text("1")
            return
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise EngineError(f"{cgroup.path / FILE} did not appear within {timeout_s:g} s") from None
            time.sleep(0.01)
        except OSError as exc:
            raise EngineError(f"could not write {cgroup.path / FILE}: {exc.strerror or exc}") from exc
