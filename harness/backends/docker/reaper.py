"""The session's reaper: what removes a killed harness's containers and networks.

testcontainers gives every container and network of a process one session label and, on
the first container, starts a reaper (Ryuk) holding a socket from the process; when the
socket drops -- the process ended or was killed with SIGKILL -- the reaper removes
everything with that label after its reconnection time-out. Its default image comes from
a registry, so the harness builds its own (:mod:`harness.reaper.ryuk`, stdlib Python on
the local Debian base, cached by digest like the lab image) and starts it itself, because
testcontainers publishes the reaper's port on every interface and the harness publishes
only on 127.0.0.1. The started reaper is handed to testcontainers as the session's, so a
user's own testcontainers containers in the same process share it (and its clean-up).

Turned off with ``TESTCONTAINERS_RYUK_DISABLED=true``; then the harness removes a killed
run's leftovers at its next start (:mod:`harness.backends.docker.owner`). A user who names
a reaper image (``RYUK_CONTAINER_IMAGE``) gets testcontainers' own start-up of it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import docker
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer, Reaper
from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID

from harness.backends.docker.engine_errors import ENGINE_ERRORS
from harness.backends.docker.image import build_small_image, small_image_digest
from harness.backends.docker.owner import removed_or_gone
from harness.config import HarnessConfig
from harness.errors import EngineError, first_line

Log = Callable[[str], None]

SCRIPT = Path(__file__).resolve().parents[2] / "reaper" / "ryuk.py"
PORT = 8080
DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
COPY ryuk.py /ryuk.py
EXPOSE 8080
CMD ["python3", "-u", "/ryuk.py"]
"""


def reaper_digest(base: str) -> str:
    """The reaper image's cache key: its Dockerfile, script and base."""
    return small_image_digest(DOCKERFILE, base, {"ryuk.py": SCRIPT.read_bytes()})


def build_reaper_image(
    client: docker.DockerClient, config: HarnessConfig, log: Log = print, force: bool = False
) -> str:
    """Build (or reuse) the reaper image tagged ``config.reaper_image``; return its tag."""
    return build_small_image(client, config, config.reaper_image, "reaper", "the offline reaper", DOCKERFILE,
                             {"ryuk.py": SCRIPT.read_bytes()}, log=log, force=force)


def reaper_disabled() -> bool:
    """Whether the user turned the reaper off (``TESTCONTAINERS_RYUK_DISABLED=true``)."""
    return bool(testcontainers_config.ryuk_disabled)


def ensure_reaper(client: docker.DockerClient, config: HarnessConfig, log: Log = print) -> str | None:
    """Make sure this process has a reaper: the session's, if one runs already (started
    earlier by the harness or by the user's testcontainers code); else the harness's own.
    Returns the reaper container's name, or None when the reaper is turned off."""
    if reaper_disabled():
        return None
    if Reaper._instance is not None and Reaper._container is not None:  # one reaper per session
        if _running(Reaper._container):
            return _name(Reaper._container)
        # An engine restart stops every container, the session's reaper too: a session that
        # goes on must not go on unprotected.
        log("engine: the session's reaper is gone (was the engine restarted?); starting another")
        _forget(client, Reaper._container)
    if "RYUK_CONTAINER_IMAGE" in os.environ:
        Reaper.get_instance()  # the user's own reaper image, started by testcontainers itself
        return _name(Reaper._container)
    image = build_reaper_image(client, config, log=log)
    testcontainers_config.ryuk_image = image  # so testcontainers knows it and does not start another
    container = _start(image, config)
    try:
        Reaper._socket = _connect(container)
    except BaseException:
        container.stop()
        raise
    Reaper._container = container
    Reaper._instance = Reaper()
    return _name(container)


def _running(container: DockerContainer) -> bool:
    """Whether the reaper's container still runs; an engine that cannot say counts as yes
    (a flaky answer must not start a second reaper)."""
    try:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
    except docker.errors.NotFound:
        return False
    except ENGINE_ERRORS:
        return True
    return bool(wrapped.status == "running")


def _forget(client: docker.DockerClient, container: DockerContainer) -> None:
    """Drop testcontainers' handle on a dead reaper, and the dead container, whose name the
    next reaper takes."""
    if Reaper._socket is not None:
        Reaper._socket.close()
    Reaper._instance, Reaper._container, Reaper._socket = None, None, None
    name = _name(container)
    if not name:
        return
    try:
        dead = client.containers.get(name)
        if not removed_or_gone(partial(dead.remove, force=True)):
            _wait_gone(client, name)  # the engine's own auto-remove was under way: the name frees after it
    except docker.errors.NotFound:
        pass
    except ENGINE_ERRORS as exc:
        raise EngineError(f"could not remove the dead reaper {name}: {first_line(exc)}") from exc


def _wait_gone(client: docker.DockerClient, name: str, bound_s: float = 10.0) -> None:
    """Wait (bounded) until no container is named ``name``; the next reaper takes the name."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        try:
            client.containers.get(name)
        except docker.errors.NotFound:
            return
        time.sleep(0.1)
    raise EngineError(f"the dead reaper {name} was still being removed after {bound_s:.0f} s")


def _start(image: str, config: HarnessConfig) -> DockerContainer:
    container = (
        DockerContainer(image)
        .with_name(f"testcontainers-ryuk-{SESSION_ID}")
        .with_volume_mapping(testcontainers_config.ryuk_docker_socket, "/var/run/docker.sock", "rw")
        .with_env("RYUK_RECONNECTION_TIMEOUT", testcontainers_config.ryuk_reconnection_timeout)
        # No owner label: the reaper outlives its owner on purpose, and removes itself.
        .with_kwargs(auto_remove=True, privileged=testcontainers_config.ryuk_privileged,
                     labels={config.label: "reaper", f"{config.label}.user": config.user})
    )
    container.ports[f"{PORT}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]  # docker-py's (ip, port) form
    try:
        container.start()
        _wait_started(container)
    except ENGINE_ERRORS as exc:
        container.stop()
        raise EngineError(f"could not start the reaper from {image}: {first_line(exc)}") from exc
    return container


def _wait_started(container: DockerContainer, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stdout, _ = container.get_logs()
        if b"Started!" in stdout:
            return
        time.sleep(0.1)
    container.stop()
    raise EngineError(f"the reaper did not start within {timeout_s:g}s")


def _connect(container: DockerContainer, timeout_s: float = 10.0) -> socket.socket:
    """Connect to the reaper and send this session's filter; the socket must stay open for
    as long as the process lives (its closing is what the reaper waits for)."""
    port = int(container.get_docker_client().port(container.get_container_id(), PORT))
    deadline = time.monotonic() + timeout_s
    problem = "no answer"
    while time.monotonic() < deadline:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(f"label={LABEL_SESSION_ID}={SESSION_ID}\n".encode())
            if sock.recv(16).startswith(b"ACK"):
                sock.settimeout(None)
                return sock
            sock.close()
        except OSError as exc:
            problem = str(exc)
        time.sleep(0.2)
    raise EngineError(f"could not register with the reaper on 127.0.0.1:{port}: {problem}")


def _name(container: DockerContainer | None) -> str | None:
    wrapped = getattr(container, "_container", None)
    return getattr(wrapped, "name", None)
