"""Who made a container or network, and removing what a killed harness left behind.

Everything the harness creates carries three labels beside testcontainers' session label:
the kind (``io.oom-harness=run|ingress|network|reaper``), the user (``...user=<uid>``) and
the owner, the process that made it (``...owner=<host>/<pid>/<start>``). The start time
(clock ticks since boot, from /proc) tells a live owner from a later process that reuses
its pid. The reaper removes a killed harness's resources within seconds; this is the
fall-back when the reaper is turned off (``TESTCONTAINERS_RYUK_DISABLED=true``) or could not
start: at its next start the harness removes what dead processes of the same user on the
same host left, and never touches another user's or a live process's resources.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from harness.backends.docker.engine_errors import ENGINE_ERRORS, first_line
from harness.errors import EngineError
from harness.procs import start_ticks

Log = Callable[[str], None]


@dataclass(frozen=True)
class Owner:
    """A parsed owner label."""

    host: str
    pid: int
    start: int

    @classmethod
    def parse(cls, value: str) -> Owner | None:
        """The owner in ``value``; None for a label of another form (an older harness's bare pid)."""
        host, _, rest = value.partition("/")
        pid, _, start = rest.partition("/")
        if not (host and pid.isdigit() and start.isdigit()):
            return None
        return cls(host, int(pid), int(start))

    def is_gone(self, proc: Path = Path("/proc")) -> bool:
        """Whether the owner process has ended: on this host only (elsewhere it cannot be known)."""
        if self.host != socket.gethostname():
            return False
        return start_ticks(self.pid, proc) != self.start


def remove_leftovers(client: docker.DockerClient, label: str, user: str, log: Log) -> list[str]:
    """Remove this user's containers and networks whose owner process is gone; their names."""
    filters: dict[str, Any] = {"label": [f"{label}.user={user}"]}
    removed: list[str] = []
    try:
        for container in client.containers.list(all=True, filters=filters):
            if _orphaned(container.labels, label):
                container.remove(force=True, v=True)
                removed.append(str(container.name))
        for network in client.networks.list(filters=filters):
            if _orphaned(network.attrs.get("Labels") or {}, label):
                network.remove()
                removed.append(f"network:{network.name}")
    except ENGINE_ERRORS as exc:
        raise EngineError(f"could not remove a killed harness's leftovers: {first_line(exc)}") from exc
    if removed:
        log(f"engine: removed {len(removed)} leftover(s) of a harness that was killed: {' '.join(removed)}")
    return removed


def _orphaned(labels: dict[str, Any], label: str) -> bool:
    owner = Owner.parse(str(labels.get(f"{label}.owner", "")))
    return owner is not None and owner.is_gone()


def remove_labelled(client: docker.DockerClient, label: str, only: tuple[str, ...] = ()) -> list[str]:
    """Remove every container, then every network, carrying ``label`` and matching every
    ``key=value`` in ``only``; return their names (networks as ``network:<name>``).

    Reapers are kept: one runs only while its session lives or its time-out runs, and
    removes itself; removing it would leave that session's next kill unreaped.
    """
    filters: dict[str, Any] = {"label": [label, *only]}
    removed: list[str] = []
    try:
        for container in client.containers.list(all=True, filters=filters):
            if (container.labels or {}).get(label) == "reaper":
                continue
            container.remove(force=True, v=True)
            removed.append(str(container.name))
        for network in client.networks.list(filters=filters):
            network.remove()
            removed.append(f"network:{network.name}")
    except ENGINE_ERRORS as exc:
        raise EngineError(f"could not list or remove containers or networks: {first_line(exc)}") from exc
    return removed
