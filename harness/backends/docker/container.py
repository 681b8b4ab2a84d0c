"""The lab container as a context manager that always cleans up.

Created and started through testcontainers' ``DockerContainer``, so it carries the
session label the reaper removes after a SIGKILL of the harness, and shares that session
with a user's own testcontainers containers. What this class adds, and why it is not a
bare ``DockerContainer``: the port is published on 127.0.0.1 only (testcontainers
publishes on every interface), on a port the harness picks when a restart policy is set
(the engine would pick another at each restart); the memory, swap, CPU and pid limits
and the restart policy go to the engine as they are; and engine failures, including
requests' own exceptions between create and start, become :class:`EngineError` after
the container is removed. Leaving the ``with`` block removes it, also on errors,
time-outs and Ctrl-C.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import docker
from docker.errors import NotFound
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer

from harness.backends.docker.engine_errors import ENGINE_ERRORS, once_the_engine_answers
from harness.backends.docker.reaper import ensure_reaper
from harness.config import HarnessConfig
from harness.errors import EngineError, first_line


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

    def __init__(self, client: docker.DockerClient, spec: ContainerSpec, config: HarnessConfig | None = None) -> None:
        self.client = client
        self.spec = spec
        self.config = config or HarnessConfig()
        self.container: Container | None = None
        self.created_at = 0.0
        self._managed: DockerContainer | None = None

    def __enter__(self) -> LabContainer:
        ensure_reaper(self.client, self.config)  # else testcontainers would pull its own from a registry
        self.created_at = time.time()
        self._managed = managed_container(self.spec, self.client)
        try:
            self._managed.start()
            self.container = self._managed.get_wrapped_container()
        except ENGINE_ERRORS as exc:
            self.remove()
            raise EngineError(f"could not start a container from {self.spec.image}: {first_line(exc)}") from exc
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    @property
    def id(self) -> str:
        assert self.container is not None
        return str(self.container.id)

    def inspect(self) -> dict[str, Any]:
        """The engine's current view of the container (``docker inspect``)."""
        inspected: dict[str, Any] = self.client.api.inspect_container(self.id)
        return inspected

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
        """Remove the container (force); safe to call twice, also when creating it failed
        half-way (the container then exists only in the engine's list, found by name)."""
        managed, self._managed = self._managed, None
        container = self.container or _created(managed) or self._by_name()
        self.container = None
        if container is not None:
            remove_container(container, f"container {container.short_id}")
        if managed is not None:
            managed.get_docker_client().client.close()

    def _by_name(self) -> Container | None:
        """The container named in the spec, if the engine made it but its answer was lost."""
        if not self.spec.name:
            return None
        try:
            return self.client.containers.get(self.spec.name)
        except ENGINE_ERRORS:
            return None


def managed_container(spec: ContainerSpec, client: docker.DockerClient) -> DockerContainer:
    """The testcontainers container for ``spec``, not yet started."""
    kwargs: dict[str, Any] = {
        "labels": spec.labels,
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_swap_bytes,
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
            spec.network: client.api.create_endpoint_config(aliases=list(spec.network_aliases))}
    # Engine arguments go through with_kwargs: the constructor's own ``network`` wants a
    # testcontainers Network, and the harness names its network by name.
    container = DockerContainer(spec.image, env=dict(spec.env), name=spec.name)
    if spec.command is not None:
        container.with_command(spec.command)
    container.with_kwargs(**kwargs)
    # docker-py's (address, port) form: published on 127.0.0.1 only.
    container.ports[f"{spec.port}/tcp"] = ("127.0.0.1", free_port() if spec.restart_policy else None)  # type: ignore[assignment]
    return container


def _created(managed: DockerContainer | None) -> Container | None:
    wrapped = getattr(managed, "_container", None)
    return wrapped if isinstance(wrapped, Container) else None


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
    """Remove ``container`` with its volumes, running or not; gone already is fine. An
    engine that is restarting is waited for (bounded) so the run leaves nothing behind."""
    try:
        once_the_engine_answers(lambda: container.remove(force=True, v=True))
    except NotFound:
        pass
    except ENGINE_ERRORS as exc:
        raise EngineError(f"could not remove {what}: {first_line(exc)}") from exc
