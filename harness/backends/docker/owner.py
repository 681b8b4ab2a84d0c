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
from functools import partial
from pathlib import Path
from typing import Any

import docker

from harness.backends.docker.engine_errors import ENGINE_ERRORS
from harness.errors import EngineError, first_line
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
    """Remove this user's containers and networks whose owner process is gone; their names.

    Clean-up of someone else's mess never stops the user's run: an item already gone or
    being removed (the reaper got there first: 404, 409) is skipped, any other failure is
    logged and the rest goes on."""
    filters: dict[str, Any] = {"label": [f"{label}.user={user}"]}
    removed: list[str] = []
    try:
        containers = client.containers.list(all=True, filters=filters, ignore_removed=True)
        networks = client.networks.list(filters=filters)
    except ENGINE_ERRORS as exc:
        log(f"engine: could not list a killed harness's leftovers: {first_line(exc)}")
        return removed
    for container in containers:
        if _orphaned(container.labels, label) and _remove(partial(container.remove, force=True, v=True),
                                                          str(container.name), log):
            removed.append(str(container.name))
    for network in networks:
        if _orphaned(network.attrs.get("Labels") or {}, label) and _remove(network.remove, f"network {network.name}",
                                                                           log):
            removed.append(f"network:{network.name}")
    if removed:
        log(f"engine: removed {len(removed)} leftover(s) of a harness that was killed: {' '.join(removed)}")
    return removed


def _remove(remove: Callable[[], object], what: str, log: Log) -> bool:
    """Remove one leftover; False when it was gone already or could not be removed."""
    try:
        return removed_or_gone(remove)
    except ENGINE_ERRORS as exc:
        log(f"engine: could not remove leftover {what}: {first_line(exc)}")
        return False


def removed_or_gone(remove: Callable[[], object]) -> bool:
    """Remove one item; False when it went meanwhile (the reaper or another clean-up got
    there first: 404, or 409 for a removal already in progress). Other errors propagate."""
    try:
        remove()
        return True
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            return False
        raise


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
        for container in client.containers.list(all=True, filters=filters, ignore_removed=True):
            if (container.labels or {}).get(label) == "reaper":
                continue
            if removed_or_gone(partial(container.remove, force=True, v=True)):
                removed.append(str(container.name))
        for network in client.networks.list(filters=filters):
            if removed_or_gone(network.remove):
                removed.append(f"network:{network.name}")
    except ENGINE_ERRORS as exc:
        raise EngineError(f"could not list or remove containers or networks: {first_line(exc)}") from exc
    return removed
