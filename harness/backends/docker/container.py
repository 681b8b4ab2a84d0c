"""The lab container as a context manager that always cleans up.

Like testcontainers' ``DockerContainer``: entering creates and starts the container,
leaving removes it, also on errors, time-outs and Ctrl-C. Every container carries the
harness label (so ``harness clean`` can find leftovers) and publishes its port on
127.0.0.1 only.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container

from harness.errors import EngineError


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create the container, already resolved from the scenario."""

    image: str
    port: int
    command: list[str] | None
    env: dict[str, str]
    memory_bytes: int
    memory_swap_bytes: int
    nano_cpus: int | None
    restart_policy: dict[str, Any] | None
    pids_limit: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    network: str | None = None
    network_aliases: tuple[str, ...] = ()


class LabContainer:
    """A started container that is removed when the ``with`` block ends."""

    def __init__(self, client: docker.DockerClient, spec: ContainerSpec) -> None:
        self.client = client
        self.spec = spec
        self.container: Container | None = None
        self.created_at = 0.0

    def __enter__(self) -> LabContainer:
        self.created_at = time.time()
        try:
            self.container = self.client.containers.create(**self._create_kwargs())
            self.container.start()
        except DockerException as exc:
            self.remove()
            raise EngineError(f"could not start a container from {self.spec.image}: {first_line(exc)}") from exc
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    @property
    def id(self) -> str:
        assert self.container is not None
        return self.container.id

    def inspect(self) -> dict[str, Any]:
        """The engine's current view of the container (``docker inspect``)."""
        assert self.container is not None
        return self.client.api.inspect_container(self.container.id)

    def host_port(self, timeout_s: float = 10.0) -> int:
        """The 127.0.0.1 port the engine published for the target port."""
        deadline = time.monotonic() + timeout_s
        while True:
            port = published_port(self.inspect(), self.spec.port)
            if port is not None:
                return port
            if time.monotonic() > deadline:
                raise EngineError(f"the engine published no port for {self.spec.port}/tcp")
            time.sleep(0.05)

    def remove(self) -> None:
        """Remove the container (force); safe to call twice."""
        container, self.container = self.container, None
        if container is not None:
            remove_container(container, f"container {container.short_id}")

    def _create_kwargs(self) -> dict[str, Any]:
        spec = self.spec
        kwargs: dict[str, Any] = {
            "image": spec.image,
            "command": spec.command,
            "environment": spec.env,
            "labels": spec.labels,
            "ports": {f"{spec.port}/tcp": ("127.0.0.1", free_port() if spec.restart_policy else None)},
            "mem_limit": spec.memory_bytes,
            "memswap_limit": spec.memory_swap_bytes,
            "detach": True,
            "name": spec.name,
        }
        if spec.nano_cpus:
            kwargs["nano_cpus"] = spec.nano_cpus
        if spec.restart_policy:
            kwargs["restart_policy"] = spec.restart_policy
        if spec.pids_limit:
            kwargs["pids_limit"] = spec.pids_limit
        if spec.network:
            kwargs["network"] = spec.network
            kwargs["networking_config"] = {
                spec.network: self.client.api.create_endpoint_config(aliases=list(spec.network_aliases))
            }
        return kwargs


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now.

    An engine-chosen port is chosen again when a restart policy restarts the container
    (measured with Docker 26), so the app would move away from the client and the probe;
    a port chosen here stays the container's across its restarts.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def published_port(inspected: dict[str, Any], port: int) -> int | None:
    """The host port the engine published for ``port``/tcp in a ``docker inspect``, if any."""
    ports = (inspected.get("NetworkSettings") or {}).get("Ports") or {}
    bindings = ports.get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None


def remove_container(container: Container, what: str) -> None:
    """Remove ``container`` with its volumes, running or not; gone already is fine."""
    try:
        container.remove(force=True, v=True)
    except NotFound:
        pass
    except DockerException as exc:
        raise EngineError(f"could not remove {what}: {first_line(exc)}") from exc


def remove_labelled(client: docker.DockerClient, label: str) -> list[str]:
    """Remove every container, then every network, carrying the harness label; return
    their short ids (networks as ``network:<name>``)."""
    removed = []
    try:
        for container in client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True, v=True)
            removed.append(container.short_id)
        for network in client.networks.list(filters={"label": label}):
            network.remove()
            removed.append(f"network:{network.name}")
    except DockerException as exc:
        raise EngineError(f"could not list or remove containers or networks: {first_line(exc)}") from exc
    return removed


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
