"""A real reverse proxy in front of the lab app: HAProxy on a private Docker network.

On Container Apps every client request passes the platform's ingress (Envoy) before it
reaches a replica, and what that proxy does when the replica drops a connection --
answer 502 at once, or send the request again -- decides how many workers one request can
kill. Here the same shape is built locally: the app and HAProxy share a per-run bridge
network; only the proxy's port is what the client uses (both are published on 127.0.0.1
only, the app's for the health probe, which on the platform also bypasses the ingress).

HAProxy logs one line per client request to stdout (``[INGRESS] id=... retries=...``),
which the ingress-log collector reads back. It forwards the client's ``X-Request-Id``
untouched, so the lab app's ``[REQ] start id=...`` lines count the attempts that reached it.

The HAProxy image is Debian's package on the same base as the lab image, so it builds with
no registry; its tag carries a digest of its Dockerfile and base, like the lab image.
"""

from __future__ import annotations

import time
from types import TracebackType

import docker
import httpx
from docker.errors import NotFound
from docker.models.containers import Container
from docker.models.networks import Network
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network as TcNetwork

from harness.backends.docker.container import published_port, remove_container
from harness.backends.docker.engine_errors import ENGINE_ERRORS, once_the_engine_answers
from harness.backends.docker.image import Log, build_small_image, small_image_digest
from harness.backends.docker.reaper import ensure_reaper
from harness.config import HarnessConfig
from harness.errors import EngineError, first_line
from harness.scenario.model import Ingress

PROXY_PORT = 8080
APP_ALIAS = "app"
CONFIG_PATH = "/etc/haproxy/haproxy.cfg"
LOG_TAG = "[INGRESS]"
READY_PATH = "/__ingress_ready"

DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \\
 && rm -rf /var/lib/apt/lists/*
EXPOSE 8080
CMD ["haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
"""

# One line per client request, after it ended. %rc is how many times HAProxy retried it,
# %tsc the termination state ("SH--": the server aborted before answering).
LOG_FORMAT = (
    LOG_TAG + " id=%[capture.req.hdr(0)] method=%HM path=%HP status=%ST retries=%rc "
    "term=%tsc Tc=%Tc Tr=%Tr Ta=%Ta bytes=%B"
)


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def haproxy_config(ingress: Ingress, app_host: str, app_port: int) -> str:
    """The HAProxy configuration for ``ingress`` in front of ``app_host:app_port``."""
    retry_on = " ".join(ingress.retry_on)
    return "\n".join([
        "global",
        "    log stdout format raw local0",
        "    maxconn 512",
        "",
        # The engine's DNS, wherever the proxy's resolv.conf says it is: 127.0.0.11 on
        # Docker, the network's gateway (aardvark-dns) on Podman 5. With a fixed
        # 127.0.0.11, where Podman has no DNS, HAProxy answered every request after the
        # kills with 503 "SC--" (1481 health checks) while the app answered on its own
        # port (cgroup v2 guest, Podman 5.4.2, spike-ingress-retry).
        "resolvers docker",
        "    parse-resolv-conf",
        "    hold valid 1s",
        "",
        "defaults",
        "    mode http",
        "    log global",
        f"    timeout connect {_ms(ingress.timeout_connect)}",
        f"    timeout client {_ms(ingress.timeout_client)}",
        f"    timeout server {_ms(ingress.timeout_server)}",
        "",
        "frontend ingress",
        f"    bind :{PROXY_PORT}",
        "    capture request header X-Request-Id len 64",
        # Answered by the proxy itself and not logged: how the harness knows it listens.
        f"    acl ready_check path {READY_PATH}",
        "    http-request set-log-level silent if ready_check",
        "    http-request return status 200 if ready_check",
        f'    log-format "{LOG_FORMAT}"',
        "    default_backend app",
        "",
        "backend app",
        # Wait for the whole request before connecting: HAProxy gives up retrying a
        # request whose body was still arriving when it first sent it, which made a
        # retry depend on whether headers and body came in one TCP segment.
        "    option http-buffer-request",
        f"    retries {ingress.retries}",
        f"    retry-on {retry_on if ingress.retries else 'none'}",
        # Resolved again through the engine's DNS, so a restarted app with a new address
        # is still found.
        f"    server app {app_host}:{app_port} resolvers docker init-addr libc,none",
        "",
    ])


# ---------------------------------------------------------------------------------------
# Image


def dockerfile_digest(base: str) -> str:
    """A digest of the proxy image's Dockerfile and base: the cache key."""
    return small_image_digest(DOCKERFILE, base)


def build_ingress_image(
    client: docker.DockerClient, config: HarnessConfig, log: Log = print, force: bool = False
) -> str:
    """Build (or reuse) the HAProxy image tagged ``config.ingress_image``; return its tag."""
    return build_small_image(client, config, config.ingress_image, "ingress", "Debian's haproxy", DOCKERFILE,
                             log=log, force=force)


# ---------------------------------------------------------------------------------------
# Network and proxy container


class PrivateNetwork:
    """A per-run bridge network through testcontainers' ``Network`` (so it carries the
    session label the reaper removes), removed after its containers when the block ends.

    Removal also handles a network that still has endpoints: a container that an
    interrupted clean-up did not reach is removed first if it is the harness's.
    """

    def __init__(self, client: docker.DockerClient, name: str, labels: dict[str, str]) -> None:
        self.client = client
        self.name = name
        self.labels = labels
        self.network: Network | None = None

    def __enter__(self) -> PrivateNetwork:
        managed = TcNetwork(docker_network_kw={"driver": "bridge", "labels": self.labels})
        managed.name = self.name
        try:
            self.network = managed.create()._network
        except ENGINE_ERRORS as exc:
            raise EngineError(f"could not create network {self.name}: {first_line(exc)}") from exc
        finally:
            managed._docker.client.close()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    def remove(self, attempts: int = 5) -> None:
        """Remove the network; safe to call twice."""
        network, self.network = self.network, None
        if network is not None:
            remove_network(self.client, network, attempts)


def remove_network(client: docker.DockerClient, network: Network, attempts: int = 5) -> None:
    """Remove ``network``; containers of the harness still attached are removed first
    (an engine answers "has active endpoints" while one is)."""
    label = next(iter(network.attrs.get("Labels") or {}), None)
    for attempt in range(attempts):
        try:
            once_the_engine_answers(network.remove)
            return
        except NotFound:
            return
        except ENGINE_ERRORS as exc:
            if attempt == attempts - 1 or "active endpoints" not in str(exc):
                raise EngineError(f"could not remove network {network.name}: {first_line(exc)}") from exc
        _remove_attached(client, network, label)
        time.sleep(0.2)


def _remove_attached(client: docker.DockerClient, network: Network, label: str | None) -> None:
    try:
        network.reload()
        for container in network.containers:
            if label is not None and label in (container.labels or {}):
                remove_container(container, f"container {container.short_id} on network {network.name}")
    except NotFound:
        pass
    except ENGINE_ERRORS:
        pass  # the next removal attempt says what is wrong


class IngressProxy:
    """The HAProxy container on ``network``, removed when the ``with`` block ends."""

    def __init__(
        self, client: docker.DockerClient, image: str, network: str, config_text: str,
        labels: dict[str, str], name: str | None = None, config: HarnessConfig | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.config = config or HarnessConfig()
        self.image = image
        self.network = network
        self.config_text = config_text
        self.labels = labels
        self.container: Container | None = None

    def __enter__(self) -> IngressProxy:
        ensure_reaper(self.client, self.config)  # else testcontainers would pull its own from a registry
        managed = DockerContainer(self.image, name=self.name).with_kwargs(network=self.network, labels=self.labels)
        managed.with_copy_into_container(self.config_text.encode(), CONFIG_PATH)
        managed.ports[f"{PROXY_PORT}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]  # 127.0.0.1 only
        try:
            try:
                managed.start()
            finally:
                self.container = getattr(managed, "_container", None)
                managed.get_docker_client().client.close()
            self._wait_running()
        except ENGINE_ERRORS as exc:
            self.remove()
            raise EngineError(f"could not start the ingress proxy from {self.image}: {first_line(exc)}") from exc
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    def host_port(self) -> int:
        """The 127.0.0.1 port the client sends its requests to."""
        assert self.container is not None
        port = published_port(self.client.api.inspect_container(str(self.container.id)), PROXY_PORT)
        if port is None:
            raise EngineError("the engine published no port for the ingress proxy")
        return port

    def logs(self) -> str:
        """Everything the proxy printed, with the engine's timestamps ('' once removed)."""
        if self.container is None:
            return ""
        try:
            return self.container.logs(timestamps=True).decode("utf-8", "replace")
        except ENGINE_ERRORS:
            return ""

    def remove(self) -> None:
        """Remove the proxy container (force); safe to call twice."""
        container, self.container = self.container, None
        if container is not None:
            remove_container(container, "the ingress proxy")

    def _wait_running(self, timeout_s: float = 10.0) -> None:
        """Wait until HAProxy answers its own ready path; a bad configuration makes it exit."""
        assert self.container is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # State and port from one inspection: a proxy that exits between two of them
            # has no port any more, and its exit is what the user must hear about.
            inspected = self.client.api.inspect_container(str(self.container.id))
            state = inspected["State"]
            if state.get("Status") in ("exited", "dead"):
                tail = self.container.logs().decode("utf-8", "replace").strip()[-400:]
                raise EngineError(f"the ingress proxy exited with code {state.get('ExitCode')}: {tail}")
            port = published_port(inspected, PROXY_PORT)
            if port is None:
                time.sleep(0.05)
                continue
            try:
                if httpx.get(f"http://127.0.0.1:{port}{READY_PATH}", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass  # the engine's port forwarder accepts before HAProxy listens
            time.sleep(0.05)
        raise EngineError(f"the ingress proxy did not answer within {timeout_s:g}s")
