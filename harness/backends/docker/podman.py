"""Podman as the engine: its Docker-compatible API service on a socket the harness owns.

Podman has no daemon; ``podman system service`` serves Docker's API on a socket, which the
docker SDK, testcontainers and so the whole harness speak. ``harness setup --engine podman``
installs Debian's ``podman`` (as root on Debian), writes the containers.conf the service
needs and starts the service on :attr:`HarnessConfig.podman_socket`; every other command
with ``--engine podman`` points ``DOCKER_HOST`` there.

Measured on this project's machines (Podman 4.3.1, rootful): Podman gives containers
``nofile`` 1048576 and a large ``nproc`` by default, and where root lacks
``CAP_SYS_RESOURCE`` runc cannot raise a limit above the service's own, so every container
fails to start ("error setting rlimit type 7: operation not permitted"). The containers.conf
written here gives containers the service's own limits instead.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import EngineError
from harness.procs import run_step

Log = Callable[[str], None]


def socket_url(config: HarnessConfig) -> str:
    """The ``DOCKER_HOST`` of the harness's Podman service."""
    return f"unix://{config.podman_socket}"


def build_ulimits(limits: dict[str, tuple[int, int]] | None = None) -> list[str]:
    """This process's limits as ``name=soft:hard``, which the service inherits and runc
    may set without ``CAP_SYS_RESOURCE``. An unlimited limit is left out: Podman's default
    is then within it."""
    limits = limits if limits is not None else own_limits()
    return [f"{name}={soft}:{hard}" for name, (soft, hard) in limits.items()
            if resource.RLIM_INFINITY not in (soft, hard)]


def containers_conf(limits: dict[str, tuple[int, int]] | None = None) -> str:
    """A containers.conf giving containers the limits of :func:`build_ulimits` (Podman's
    builds do not read it: they get theirs with each build request)."""
    entries = ", ".join(f'"{entry}"' for entry in build_ulimits(limits))
    return "[containers]\n" + f"default_ulimits = [{entries}]\n"


def own_limits(pid_max: Path = Path("/proc/sys/kernel/pid_max")) -> dict[str, tuple[int, int]]:
    """The ``nofile`` and ``nproc`` limits (soft, hard) the service runs with: this
    process's, with ``nproc`` at most the kernel's ``pid_max``. Measured here: this
    process had ``nproc`` 96555, the service it started ran with 32768 (``pid_max``), and
    a build asking for 96555 failed where 32768 worked."""
    nproc_soft, nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)
    try:
        most = int(pid_max.read_text().strip())
    except (OSError, ValueError):
        most = nproc_hard
    return {"nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
            "nproc": (_at_most(nproc_soft, most), _at_most(nproc_hard, most))}


def _at_most(limit: int, most: int) -> int:
    return most if limit == resource.RLIM_INFINITY else min(limit, most)


def may_start(config: HarnessConfig) -> bool:
    """The harness starts a Podman service only as root on Debian, and only its own (when
    ``DOCKER_HOST`` is unset or names the harness's socket)."""
    host = os.environ.get("DOCKER_HOST", "")
    return host in ("", socket_url(config)) and os.geteuid() == 0 and Path("/etc/debian_version").exists()


def start_service(config: HarnessConfig, log: Log) -> None:
    """Install Podman if missing, write its containers.conf and start its API service on
    the harness's socket, detached (it outlives this command, as dockerd does)."""
    podman = shutil.which("podman") or _install(log)
    conf = config.podman_socket.parent / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(containers_conf())
    config.podman_socket.unlink(missing_ok=True)  # a killed service leaves its socket behind
    log(f"engine: starting podman system service on {config.podman_socket} (log: {config.podman_log})")
    config.podman_log.parent.mkdir(parents=True, exist_ok=True)
    with open(config.podman_log, "ab") as out:
        subprocess.Popen(
            [podman, "system", "service", "--time=0", socket_url(config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "CONTAINERS_CONF": str(conf)},
        )


def _install(log: Log) -> str:
    log("engine: installing Debian's podman (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_step(["apt-get", "update", "-qq"], "apt-get update", 600, EngineError, env)
    run_step(["apt-get", "install", "-y", "-qq", "podman"], "apt-get install podman", 900, EngineError, env)
    found = shutil.which("podman")
    if found is None:
        raise EngineError("apt-get installed podman but no podman command is on PATH")
    return found
