"""Run scenarios in the cgroup v2 guest from the host: one boot, any number of runs.

The lab, ingress and monitoring images are built on the host (as for a host run), saved
once per image id into the guest's cache, and loaded into the guest's engine once, on a
disk kept for every later boot (:mod:`harness.vm.disks`), so the guest never builds and
a boot loads nothing. The scenario is validated on the host (errors name the host's file); the
guest runs it with the same harness code and sends back the result, which the host
writes like any other, with the guest's engine, kernel and cgroup facts and the speed
factor its waits were stretched by.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException

from harness.config import HarnessConfig
from harness.errors import EngineError, GuestError
from harness.result import ScenarioResult
from harness.scenario import Scenario
from harness.vm.disks import prepare_loaded_disk
from harness.vm.image import GuestImage, Log, ensure_guest_image
from harness.vm.qemu import Guest
from harness.vm.speed import calibrate, time_scale

#: A guest job's bound: the scenario's own run bound, stretched, plus this margin.
JOB_MARGIN_S = 120.0


def save_image(client: docker.DockerClient, tag: str, folder: Path, log: Log) -> Path:
    """``docker save`` of ``tag`` into ``folder``, once per image id (a cache hit is free)."""
    try:
        image = client.images.get(tag)
    except DockerException as exc:
        raise EngineError(f"image {tag} is not on the host's engine ({exc}); run `harness setup`") from exc
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)
    path = folder / f"{stem}-{str(image.id).split(':')[-1][:12]}.tar"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{stem}-*.tar"):
        old.unlink(missing_ok=True)
    log(f"vm: saving {tag} for the guest ...")
    tmp = path.with_suffix(".tar.tmp")
    try:
        with tmp.open("wb") as out:
            for chunk in image.save(named=True):
                out.write(chunk)
        tmp.rename(path)
    except DockerException as exc:
        raise EngineError(f"docker save of {tag} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def guest_image_tars(client: docker.DockerClient, config: HarnessConfig, log: Log) -> list[Path]:
    """The saves of every image a guest run can need (lab, ingress, monitoring), built or
    found current first. Always all three: the guest's prepared disk is named by them, so
    one disk serves every scenario."""
    from harness.backends.docker.image import build_lab_image
    from harness.backends.docker.ingress import build_ingress_image
    from harness.backends.docker.monitoring import build_monitoring_image

    build_lab_image(client, config, log=log)
    build_ingress_image(client, config, log=log)
    build_monitoring_image(client, config, log=log)
    return [save_image(client, tag, config.vm_dir / "images", log)
            for tag in (config.image, config.ingress_image, config.monitoring_image)]


class GuestSession:
    """A booted guest that runs scenarios; see :func:`guest_session`."""

    def __init__(self, guest: Guest, config: HarnessConfig, host_calibration_s: float, log: Log) -> None:
        self.guest = guest
        self.config = config
        self.log = log
        measured = time_scale(float(guest.ready.get("calibration_s", 0.0)), host_calibration_s)
        self.time_scale = config.vm_time_scale if config.vm_time_scale is not None else measured

    def run(self, scenario: Scenario, source: str | None = None, engine: str = "") -> ScenarioResult:
        """Run ``scenario`` in the guest (on its Docker engine, or with ``engine="podman"``
        on its Podman); the result as if run here, with the guest's facts."""
        job = {
            "engine": engine,
            "kind": "run", "scenario": scenario.model_dump(mode="json", by_alias=True),
            "source": source or scenario.name, "image": self.config.image,
            "ingress_image": self.config.ingress_image, "monitoring_image": self.config.monitoring_image,
            "label": self.config.label,
            "time_scale": self.time_scale,
            "host": self.guest.facts(),  # judged with: the engine conditions read it (emulated)
        }
        bound = scenario.run_timeout * scenario.repeat * self.time_scale + JOB_MARGIN_S
        code, data = self.guest.run_job(job, bound, on_line=lambda line: self.log(f"guest: {line}"))
        if "error" in data:
            error = GuestError(f"in the guest: {data['error']}")
            error.exit_code = code if code in (2, 3) else 3
            raise error
        result = ScenarioResult.from_json(data)
        result.scenario_file = source
        return result

    def check(self, name: str, timeout_s: float = 600.0, **options: Any) -> dict[str, Any]:
        """Run one of :mod:`harness.vm.checks` in the guest (within ``timeout_s``); its JSON outcome."""
        code, data = self.guest.run_job({"kind": "check", "check": name, "image": self.config.image,
                                         "label": self.config.label, **options}, timeout_s,
                                        on_line=lambda line: self.log(f"guest: {line}"))
        if "error" in data:
            raise GuestError(f"check {name} in the guest: {data['error']}")
        data["exit_code"] = code
        return data


@contextmanager
def guest_session(
    config: HarnessConfig, scenarios: list[Scenario], log: Log = print, image: GuestImage | None = None,
) -> Iterator[GuestSession]:
    """Boot the guest with the images ``scenarios`` need; stop it when the block ends."""
    from harness.backends.docker import engine
    from harness.backends.docker.backend import prepare_images

    image = image or ensure_guest_image(config, log)
    client = engine.connect(config)
    try:
        for scenario in scenarios:
            prepare_images(client, config, scenario, log=log)
        tars = guest_image_tars(client, config, log)
    finally:
        client.close()
    disk = prepare_loaded_disk(config, image, tars, log)
    host_s = calibrate()
    with Guest(config, image, [], log, disk=disk) as guest:
        yield GuestSession(guest, config, host_s, log)


def run_in_guest(config: HarnessConfig, scenario: Scenario, source: str | None, log: Log = print,
                 engine: str = "") -> ScenarioResult:
    """One scenario in a freshly booted guest, on the guest's ``engine`` (Docker unless
    ``podman``). The images are built on this machine's engine, whichever it is."""
    with guest_session(replace(config, engine=""), [scenario], log) as session:
        return session.run(scenario, source, engine)

