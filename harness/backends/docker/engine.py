"""Reach a Docker engine, and on a fresh Debian machine install and start one.

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

from harness.config import HarnessConfig
from harness.errors import EngineError, first_line
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

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "api_version": self.api_version,
            "cgroup_version": self.cgroup_version,
            "cgroup_driver": self.cgroup_driver,
            "kernel": self.kernel,
        }


def connect() -> docker.DockerClient:
    """A client for the engine named by the environment (DOCKER_HOST or the local socket)."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise EngineError(f"no Docker engine reachable ({_short(exc)}): {INSTALL_HINT}") from exc
    return client


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
    )


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
        return connect()
    except EngineError as first:
        if not _may_start_local_engine():
            raise EngineError(f"{first}. (not root on Debian, so the harness will not set one up)") from first
    if shutil.which("dockerd") is None:
        _install_docker_io(log)
    _start_dockerd(config, log)
    return _wait_for_engine(config.engine_start_timeout_s)


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


def _wait_for_engine(timeout_s: float) -> docker.DockerClient:
    deadline = time.monotonic() + timeout_s
    last: EngineError | None = None
    while time.monotonic() < deadline:
        try:
            return connect()
        except EngineError as exc:
            last = exc
            time.sleep(0.5)
    raise EngineError(f"dockerd did not answer within {timeout_s:.0f} s: {last}")


def _short(exc: BaseException) -> str:
    text = first_line(exc, 10_000)
    return text[:200]
