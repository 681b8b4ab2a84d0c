"""Reach the engine (Docker, or Podman's Docker-compatible service), and on a fresh Debian
machine install and start one.

CI and new machines start with only the Docker client. As root on Debian the harness can
install Debian's ``docker.io`` and start ``dockerd`` itself; elsewhere it says what to do.
A dockerd killed at the end of a previous session leaves its pid files behind, and a new
dockerd refuses to start until they are gone, so stale ones are removed first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException

from harness.backends.docker import podman
from harness.config import HarnessConfig
from harness.errors import EngineError, UsageError, first_line
from harness.procs import alive, run_step

Log = Callable[[str], None]

PID_FILES = (Path("/var/run/docker.pid"), Path("/var/run/docker/containerd/containerd.pid"))

INSTALL_HINT = (
    "install Docker Engine (https://docs.docker.com/engine/install/) and start it, "
    "or point DOCKER_HOST at a running engine"
)


@dataclass(frozen=True)
class EngineInfo:
    """What the engine says about itself: recorded in every result."""

    name: str
    version: str
    api_version: str
    cgroup_version: str
    cgroup_driver: str
    kernel: str
    rootless: bool = False  # runs as an ordinary user (Podman's ``Rootless``, Docker's ``name=rootless``)


ENGINES = ("docker", "podman")


def use_engine(config: HarnessConfig) -> None:
    """Point this process (and the processes it starts: sweep variants, fault trials,
    testcontainers) at the engine ``config.engine`` names. For Podman that is the harness's
    own service socket, unless ``DOCKER_HOST`` already names one (a rootless socket, say)."""
    if not config.engine:
        return
    if config.engine not in ENGINES:
        raise UsageError(f"engine {config.engine!r} (--engine or OOM_HARNESS_ENGINE): expected one of "
                         f"{', '.join(ENGINES)}")
    os.environ["OOM_HARNESS_ENGINE"] = config.engine
    if config.engine == "podman" and not os.environ.get("DOCKER_HOST"):
        os.environ["DOCKER_HOST"] = podman.socket_url(config)


def connect(config: HarnessConfig | None = None) -> docker.DockerClient:
    """A client for the engine named by the environment (DOCKER_HOST or the local socket),
    or by ``config.engine``; when an engine was chosen, one of the other kind is refused."""
    if config is not None:
        use_engine(config)
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise EngineError(f"no {_wanted(config)} engine reachable ({_short(exc)}): {_hint(config)}") from exc
    if config is not None and config.engine:
        _check_kind(client, config)
    return client


def _wanted(config: HarnessConfig | None) -> str:
    return "Podman" if config is not None and config.engine == "podman" else "Docker"


def _hint(config: HarnessConfig | None) -> str:
    if config is not None and config.engine == "podman":
        return (f"run `harness setup --engine podman` (starts Podman's API service on {config.podman_socket}), "
                "or point DOCKER_HOST at a running `podman system service`")
    return INSTALL_HINT


def _check_kind(client: docker.DockerClient, config: HarnessConfig) -> None:
    """Refuse an engine of the other kind: a Podman result filed as Docker's (or the
    reverse) would put one engine's findings under the other's name."""
    try:
        name = engine_name(client.version())
    except DockerException as exc:
        client.close()
        raise EngineError(f"the engine did not answer: {_short(exc)}") from exc
    if name != config.engine:
        host = os.environ.get("DOCKER_HOST") or "the local socket"
        client.close()
        raise EngineError(f"--engine {config.engine}, but {host} answers as {name}: unset DOCKER_HOST "
                          f"or choose --engine {name}")


def describe(client: docker.DockerClient) -> EngineInfo:
    """The engine's name, version and cgroup setup."""
    try:
        info = client.info()
        version = client.version()
    except DockerException as exc:
        raise EngineError(f"the Docker engine did not answer: {_short(exc)}") from exc
    return EngineInfo(
        name=engine_name(version),
        version=str(version.get("Version", "unknown")),
        api_version=str(version.get("ApiVersion", "unknown")),
        cgroup_version=str(info.get("CgroupVersion", "unknown")),
        cgroup_driver=str(info.get("CgroupDriver", "unknown")),
        kernel=str(info.get("KernelVersion", "unknown")),
        rootless=bool(info.get("Rootless")) or any("name=rootless" in str(opt)
                                                   for opt in info.get("SecurityOptions") or ()),
    )


def require_memory_limits(scenario_name: str, info: EngineInfo) -> None:
    """Refuse an engine that would not hold the container to its memory limit: no cgroup
    OOM kill could happen there, and every row of the matrix would read as a miss.

    Raises:
        EngineError: the engine runs rootless on cgroup v1.
    """
    if info.rootless and info.cgroup_version == "1":
        raise EngineError(
            f"{scenario_name}: {info.name} {info.version} runs rootless on cgroup v1, where memory limits are not "
            "applied (rootless Podman 4.3.1 here: 'Resource limits are not supported and ignored on cgroups V1 "
            "rootless systems'; a container under a 128 MB limit allocated 640 MB), so no OOM kill can happen: "
            "run it rootful (as root: harness setup --engine podman) or on cgroup v2 (--vm)")


def engine_name(version: dict[str, Any]) -> str:
    """``podman`` when Podman's Docker-compatible API answers (it names itself among the
    version's components: "Podman Engine"), else ``docker``. Both speak the same API;
    what they report about an OOM kill differs, so results say which one ran."""
    for component in version.get("Components") or ():
        if str(component.get("Name", "")).lower().startswith("podman"):
            return "podman"
    return "docker"


def ensure_engine(config: HarnessConfig, log: Log = print) -> docker.DockerClient:
    """Return a client for a running engine, installing and starting one where we may.

    Raises:
        EngineError: no engine answers and this machine is not one we may set up
            (not root, not Debian, or DOCKER_HOST names another machine).
    """
    try:
        return connect(config)
    except EngineError as first:
        allowed = podman.may_start(config) if config.engine == "podman" else _may_start_local_engine()
        if not allowed:
            raise EngineError(f"{first}. (not root on Debian, or DOCKER_HOST names another engine, so the "
                              "harness will not set one up)") from first
    if config.engine == "podman":
        podman.start_service(config, log)
        return _wait_for_engine(config)
    if shutil.which("dockerd") is None:
        _install_docker_io(log)
    _start_dockerd(config, log)
    return _wait_for_engine(config)


def _may_start_local_engine() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    local = host in ("", "unix:///var/run/docker.sock")
    return local and os.geteuid() == 0 and Path("/etc/debian_version").exists()


def _install_docker_io(log: Log) -> None:
    log("engine: installing Debian's docker.io (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_step(["apt-get", "update", "-qq"], "apt-get update", 600, EngineError, env)
    run_step(["apt-get", "install", "-y", "-qq", "docker.io"], "apt-get install docker.io", 900, EngineError, env)


def remove_stale_pid_files(paths: tuple[Path, ...] = PID_FILES) -> list[Path]:
    """Remove pid files whose process is gone; return the ones removed."""
    removed = []
    for path in paths:
        try:
            pid = int(path.read_text().strip() or "0")
        except (OSError, ValueError):
            pid = 0
        if path.exists() and not alive(pid):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _start_dockerd(config: HarnessConfig, log: Log) -> None:
    for path in remove_stale_pid_files():
        log(f"engine: removed stale pid file {path}")
    log(f"engine: starting dockerd (log: {config.dockerd_log})")
    config.dockerd_log.parent.mkdir(parents=True, exist_ok=True)
    with open(config.dockerd_log, "ab") as out:
        subprocess.Popen(
            ["dockerd"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_for_engine(config: HarnessConfig) -> docker.DockerClient:
    timeout_s = config.engine_start_timeout_s
    deadline = time.monotonic() + timeout_s
    last: EngineError | None = None
    while time.monotonic() < deadline:
        try:
            return connect(config)
        except EngineError as exc:
            last = exc
            time.sleep(0.5)
    started = "podman system service" if config.engine == "podman" else "dockerd"
    raise EngineError(f"{started} did not answer within {timeout_s:.0f} s: {last}")


def _short(exc: BaseException) -> str:
    text = first_line(exc, 10_000)
    return text[:200]
