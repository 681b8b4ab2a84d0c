"""Harness-wide settings: one frozen dataclass, defaults read from the environment once.

Modelled on testcontainers' config: every knob has a default, an ``OOM_HARNESS_*``
variable overrides it, and code receives the object instead of reading ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.procs import process_identity


def _env(name: str, default: str) -> str:
    return os.environ.get(f"OOM_HARNESS_{name}", default)


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "oom-harness"


def _podman_socket() -> str:
    """Root's service listens under /run; another user's under its runtime folder."""
    if os.getuid() == 0:
        return "/run/oom-harness/podman.sock"
    return str(Path(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/oom-harness-{os.getuid()}") / "oom-harness/podman.sock")


@dataclass(frozen=True)
class HarnessConfig:
    """Settings for engines, images and runs.

    Attributes:
        image: tag of the lab image that scenarios get when they name ``labapp``.
        ingress_image: tag of the HAProxy image put in front of the app when a scenario
            declares an ``ingress``.
        base_image: the public base for the online build path.
        offline_base_image: tag of the local Debian base made by debootstrap for the offline path.
        debian_mirror: mirror for debootstrap; empty means debootstrap's own default.
        wheel_cache: where the lab's wheels are downloaded on the host (offline image path).
        dockerd_log: where a dockerd started by the harness writes its log.
        engine: ``docker`` or ``podman`` (``--engine`` sets it for one command): the engine
            the harness reaches and insists on; empty (the default) takes whichever engine
            ``DOCKER_HOST`` or the local Docker socket offers.
        podman_socket: where the Podman API service the harness starts listens.
        podman_log: where that service writes its log.
        pull_timeout_s: how long the online path may try to pull the base before going offline.
        engine_start_timeout_s: how long to wait for a started dockerd to answer.
        vm_dir: where the cgroup v2 guest's disk, kernel and saved images are cached.
        vm_accel: ``auto`` (KVM where a guest boots under it, else TCG), ``kvm`` or ``tcg``.
        vm_memory_mb: the guest's memory.
        vm_build_timeout_s: the time limit of each step that builds the guest.
        vm_boot_timeout_s: how long the guest may take to boot and load the images (TCG).
        time_scale: stretch every bounded wait of a local run by this factor (>= 1), for a
            machine much slower than the one the scenario was written on (an emulated CI
            runner; the guest's own runs set it from its measured speed).
        vm_time_scale: stretch the guest's waits by this factor instead of the one it
            measures (``1`` runs with the bounds as written, to see what they cut short).
        label: the label key put on every container, network and image the harness makes.
        reaper_image: tag of the offline reaper image (testcontainers' Ryuk protocol).
        monitoring_image: tag of the Prometheus/Alertmanager/node_exporter image a
            scenario with ``monitoring`` runs beside its target.
        owner: this process as ``<host>/<pid>/<start ticks>``, put in a label so concurrent
            harnesses (and test sessions) tell their containers apart and a later harness
            knows which owners are dead.
        user: this user's id, put in a label: ``harness clean`` removes only this user's.
    """

    image: str = field(default_factory=lambda: _env("IMAGE", "oom-harness/labapp:latest"))
    ingress_image: str = field(default_factory=lambda: _env("INGRESS_IMAGE", "oom-harness/haproxy:latest"))
    base_image: str = field(default_factory=lambda: _env("BASE_IMAGE", "python:3.11-slim"))
    offline_base_image: str = field(
        default_factory=lambda: _env("OFFLINE_BASE_IMAGE", "oom-harness/base:bookworm-py311")
    )
    debian_mirror: str = field(default_factory=lambda: _env("DEBIAN_MIRROR", ""))
    wheel_cache: Path = field(default_factory=lambda: Path(_env("WHEEL_CACHE", str(_cache_home() / "wheels"))))
    dockerd_log: Path = field(
        default_factory=lambda: Path(_env("DOCKERD_LOG", "/var/log/oom-harness-dockerd.log"))
    )
    engine: str = field(default_factory=lambda: _env("ENGINE", ""))
    podman_socket: Path = field(default_factory=lambda: Path(_env("PODMAN_SOCKET", _podman_socket())))
    podman_log: Path = field(default_factory=lambda: Path(_env("PODMAN_LOG", "/var/log/oom-harness-podman.log")))
    pull_timeout_s: float = field(default_factory=lambda: float(_env("PULL_TIMEOUT", "20")))
    engine_start_timeout_s: float = field(
        default_factory=lambda: float(_env("ENGINE_START_TIMEOUT", "60"))
    )
    vm_dir: Path = field(default_factory=lambda: Path(_env("VM_DIR", str(_cache_home() / "vm"))))
    vm_accel: str = field(default_factory=lambda: _env("VM_ACCEL", "auto"))
    vm_memory_mb: int = field(default_factory=lambda: int(_env("VM_MEMORY_MB", "4096")))
    vm_build_timeout_s: float = field(default_factory=lambda: float(_env("VM_BUILD_TIMEOUT", "900")))
    vm_boot_timeout_s: float = field(default_factory=lambda: float(_env("VM_BOOT_TIMEOUT", "420")))
    vm_time_scale: float | None = field(
        default_factory=lambda: float(v) if (v := _env("VM_TIME_SCALE", "")) else None)
    time_scale: float = field(default_factory=lambda: max(1.0, float(_env("TIME_SCALE", "1"))))
    label: str = "io.oom-harness"
    reaper_image: str = field(default_factory=lambda: _env("REAPER_IMAGE", "oom-harness/reaper:latest"))
    monitoring_image: str = field(
        default_factory=lambda: _env("MONITORING_IMAGE", "oom-harness/monitoring:latest"))
    owner: str = field(default_factory=process_identity)
    user: str = field(default_factory=lambda: str(os.getuid()))

    @property
    def owner_label(self) -> str:
        """``key=value`` of the label naming the process that made a container."""
        return f"{self.label}.owner={self.owner}"
