"""Build the lab image, online when a registry answers and offline when none does.

Online: the top-level Dockerfile on its default base (the public Python 3.11 slim image).
Offline (no registry: this project's CI, air-gapped sites): a Python 3.11 base made from
Debian packages with debootstrap and ``docker import``, and the app's wheels downloaded on
the host into the build context, because pip inside the container cannot verify TLS there.
The built image carries a label with a digest of its sources, so an unchanged tree is a
cache hit that takes seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import docker
from docker.errors import DockerException, ImageNotFound
from docker.models.images import Image
from docker.utils import tar as docker_tar

from harness.backends.docker import podman
from harness.backends.docker.engine import engine_name
from harness.backends.docker.engine_errors import ENGINE_ERRORS
from harness.backends.docker.pull import can_bound, pull_within
from harness.config import HarnessConfig
from harness.errors import ImageError, first_line
from harness.procs import run_step

Log = Callable[[str], None]

#: The time limit of one long build step (apt-get, debootstrap, pip download, tar).
STEP_TIMEOUT_S = 900.0

#: The harness package's folder, which holds the one module the lab image shares
#: (cgroupfs.py).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LabSources:
    """Where the lab image's inputs are: the lab package's folder (``labapp/`` in a clone,
    ``harness/lab`` in an installed wheel, which carries the Dockerfile and requirements as
    package data) and the harness folder with the shared ``cgroupfs.py``."""

    lab: Path
    harness: Path = PACKAGE_ROOT

    def files(self) -> list[tuple[str, Path]]:
        """Each input as (its path in the build context, where it is now), in a stable order.
        The context is laid out as a clone is, so the root Dockerfile builds either."""
        needed = [self.lab / "Dockerfile", self.lab / "requirements.txt", self.harness / "cgroupfs.py"]
        if missing := [str(path) for path in needed if not path.is_file()]:
            raise ImageError(f"the lab image's sources are missing: {', '.join(missing)}; reinstall oom-harness")
        return [("Dockerfile", self.lab / "Dockerfile"), ("labapp/requirements.txt", self.lab / "requirements.txt"),
                *((f"labapp/{module.name}", module) for module in sorted(self.lab.glob("*.py"))),
                ("harness/cgroupfs.py", self.harness / "cgroupfs.py")]


def installed_sources() -> LabSources:
    """The installed lab's folder, found without importing the lab (the harness never does)."""
    spec = importlib.util.find_spec("harness.lab")
    if spec is None or not spec.submodule_search_locations:
        raise ImageError("the lab package (harness.lab) is not installed: reinstall oom-harness")
    return LabSources(Path(next(iter(spec.submodule_search_locations))))


@dataclass(frozen=True)
class ImageBuild:
    """The outcome of ``build_lab_image``: which tag, from which base, and whether cached."""

    tag: str
    image_id: str
    base: str
    path: str  # "online", "offline" or "cached"
    digest: str


def source_digest(sources: LabSources) -> str:
    """A digest of every file that goes into the lab image (context names and contents)."""
    sha = hashlib.sha256()
    for name, path in sources.files():
        sha.update(name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def assemble_context(sources: LabSources, dest: Path, wheels: Path | None) -> Path:
    """Lay out the build context in ``dest`` as a clone's top level: ``Dockerfile``,
    ``labapp/`` (modules and requirements), ``harness/cgroupfs.py`` and, on the offline path,
    ``wheels/``."""
    for name, path in sources.files():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / name)
    if wheels is not None:
        (dest / "wheels").mkdir()
        for wheel in sorted(wheels.glob("*.whl")):
            shutil.copyfile(wheel, dest / "wheels" / wheel.name)
    return dest


def build_lab_image(
    client: docker.DockerClient, config: HarnessConfig, log: Log = print, force: bool = False,
    sources: LabSources | None = None,
) -> ImageBuild:
    """Build (or reuse) the lab image tagged ``config.image`` from the installed package."""
    sources = sources or installed_sources()
    digest = source_digest(sources)
    cached = cached_image(client, config.image, config.label, digest)
    if cached is not None and not force:
        log(f"image: {config.image} is up to date (sources {digest})")
        return ImageBuild(config.image, str(cached.id), "", "cached", digest)
    base, path = choose_base(client, config, log)
    wheels = download_wheels(sources.lab / "requirements.txt", config.wheel_cache, log) \
        if path == "offline" else None
    with tempfile.TemporaryDirectory(prefix="oom-harness-context-") as tmp:
        context = assemble_context(sources, Path(tmp), wheels)
        image_id = _docker_build(client, config, context, base, digest, log)
    log(f"image: built {config.image} ({path} path, base {base})")
    return ImageBuild(config.image, image_id, base, path, digest)


def small_image_digest(dockerfile: str, base: str, extra: Mapping[str, bytes] | None = None) -> str:
    """The cache key of an image built from in-memory files: its Dockerfile, its base and
    the files the Dockerfile copies."""
    return hashlib.sha256((dockerfile + base).encode() + b"".join((extra or {}).values())).hexdigest()[:16]


def build_small_image(
    client: docker.DockerClient, config: HarnessConfig, tag: str, role: str, what: str, dockerfile: str,
    extra: Mapping[str, bytes] | None = None, log: Log = print, force: bool = False,
) -> str:
    """Build (or reuse) ``tag`` from an in-memory Dockerfile (and the files it copies) on the
    harness's base, online or offline like the lab image; cached by a digest of all of them.
    The ingress proxy's and the reaper's images are built this way. Returns the tag."""
    base, path = choose_base(client, config, log)
    digest = small_image_digest(dockerfile, base, extra)
    if not force and cached_image(client, tag, config.label, digest) is not None:
        log(f"image: {tag} is up to date")
        return tag
    log(f"image: building {tag} ({what} on {base}) ...")
    try:
        stream = start_build(
            client, _tar_context({"Dockerfile": dockerfile.encode(), **(extra or {})}), tag=tag,
            buildargs={"BASE_IMAGE": base}, labels={config.label: role, f"{config.label}.sources": digest},
        )
        if follow_build(stream, log) is None:
            raise ImageError(f"building {tag} finished without an image id")
    except ENGINE_ERRORS as exc:  # BuildError is a DockerException
        raise ImageError(f"building {tag} failed: {first_line(exc)}") from exc
    log(f"image: built {tag} ({path} path)")
    return tag


def _tar_context(files: Mapping[str, bytes]) -> io.BytesIO:
    """A build context holding ``files`` (name -> content) at its top."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def cached_image(client: docker.DockerClient, tag: str, label: str, digest: str) -> Image | None:
    """The image tagged ``tag`` if it was built from sources with ``digest``, else None."""
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        return None
    except DockerException as exc:
        raise ImageError(f"cannot inspect {tag}: {exc}") from exc
    labels = image.labels or {}
    return image if labels.get(f"{label}.sources") == digest else None


def choose_base(client: docker.DockerClient, config: HarnessConfig, log: Log) -> tuple[str, str]:
    """Pick the base image: a local one if present, a pulled one if a registry answers,
    else a Debian base made here."""
    for tag, path in ((config.base_image, "online"), (config.offline_base_image, "offline")):
        if _has_image(client, tag):
            return tag, path
    log(f"image: pulling {config.base_image} ...")
    failure = _pull(client, config.base_image, config.pull_timeout_s)
    if failure is None:
        return config.base_image, "online"
    log(f"image: no registry ({failure}); building an offline base from Debian packages")
    build_offline_base(client, config, log)
    return config.offline_base_image, "offline"


def _has_image(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    except DockerException as exc:
        raise ImageError(f"cannot inspect {tag}: {exc}") from exc
    return True


def _pull(client: docker.DockerClient, tag: str, timeout_s: float) -> str | None:
    """Pull ``tag``; return None on success, else a one-line reason (also on time-out).

    On a local or plain-tcp engine the pull is bounded and nothing of it runs on after the
    bound (:mod:`harness.backends.docker.pull`); through TLS or ssh it is docker-py's own,
    bounded by the engine's time-outs."""
    if can_bound():
        return pull_within(tag, timeout_s, client.api.api_version)
    try:
        client.images.pull(tag)
    except ENGINE_ERRORS as exc:
        return first_line(exc)[:160]
    return None


def build_offline_base(client: docker.DockerClient, config: HarnessConfig, log: Log) -> None:
    """debootstrap a minimal bookworm with Python 3.11 and import it as an image."""
    debootstrap = shutil.which("debootstrap") or _install_debootstrap(log)
    with tempfile.TemporaryDirectory(prefix="oom-harness-base-") as tmp:
        root, tarball = Path(tmp) / "root", Path(tmp) / "root.tar"
        cmd = [debootstrap, "--variant=minbase", "--include=python3,python3-venv", "bookworm", str(root)]
        if config.debian_mirror:
            cmd.append(config.debian_mirror)
        log("image: debootstrap bookworm (python3, python3-venv) ... about a minute")
        _run(cmd, "debootstrap")
        _run(["tar", "-C", str(root), "-cf", str(tarball), "."], "tar")
        try:
            # The tag goes inside `repo` (Docker's API allows it): Podman's compat API ignores
            # a separate `tag` and filed the base as `:latest` (podman#18597).
            client.api.import_image_from_file(
                str(tarball), repository=_with_tag(config.offline_base_image),
                changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"],
            )
        except DockerException as exc:
            raise ImageError(f"docker import of the offline base failed: {exc}") from exc
    log(f"image: offline base {config.offline_base_image} ready")


def _with_tag(reference: str) -> str:
    """``name:tag``, with ``:latest`` where the reference names no tag."""
    return reference if ":" in reference.rsplit("/", 1)[-1] else f"{reference}:latest"


def _install_debootstrap(log: Log) -> str:
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        raise ImageError(
            "no registry and no debootstrap: install debootstrap (Debian/Ubuntu) or give the "
            "engine access to a registry holding python:3.11-slim"
        )
    log("image: installing debootstrap (apt-get) ...")
    _run(["apt-get", "install", "-y", "-qq", "debootstrap"], "apt-get install debootstrap")
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def download_wheels(requirements: Path, cache: Path, log: Log) -> Path:
    """Download the lab's wheels on the host into ``cache``/<digest of the requirements>
    (skipped when present); return that folder."""
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    wheels = cache / wanted
    stamp = wheels / ".complete"
    if stamp.exists():
        return wheels
    wheels.mkdir(parents=True, exist_ok=True)
    log(f"image: downloading the lab's wheels on the host into {wheels} ...")
    _run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
            "--platform", f"manylinux2014_{platform.machine()}", "--python-version", "3.11",
            "--implementation", "cp", "-d", str(wheels), "-r", str(requirements),
        ],
        "pip download", timeout_s=STEP_TIMEOUT_S,
    )
    stamp.write_text(wanted + "\n")
    return wheels


def _docker_build(
    client: docker.DockerClient, config: HarnessConfig, context: Path, base: str, digest: str, log: Log
) -> str:
    try:
        stream = start_build(
            client, cast(IO[bytes], docker_tar(context)), tag=config.image, buildargs={"BASE_IMAGE": base},
            labels={config.label: "labapp", f"{config.label}.sources": digest},
        )
        image_id = follow_build(stream, log)
    except ENGINE_ERRORS as exc:  # BuildError and APIError are DockerExceptions
        raise ImageError(f"docker build failed: {first_line(exc)}") from exc
    if image_id is None:
        raise ImageError("docker build finished without an image id")
    return image_id


def start_build(
    client: docker.DockerClient, context: IO[bytes], tag: str, buildargs: dict[str, str], labels: dict[str, str],
) -> Iterator[dict[str, Any]]:
    """Start building ``context`` (a tar of the build's files); the engine's progress as a
    stream of dicts.

    Podman's builds get the resource limits of its service: without them its builder asks
    for ``nproc`` 1048576, which runc cannot set where root lacks ``CAP_SYS_RESOURCE``, and
    every ``RUN`` fails ("error setting rlimit type 6"). Docker's API has no such field in
    docker-py, so Podman's build is sent through the same session with it added."""
    if engine_name(client.version()) != "podman":
        return client.api.build(fileobj=context, custom_context=True, tag=tag, buildargs=buildargs, labels=labels,
                                rm=True, forcerm=True, decode=True)
    params = {"t": tag, "buildargs": json.dumps(buildargs), "labels": json.dumps(labels), "rm": "1",
              "forcerm": "1", "ulimits": json.dumps(podman.build_ulimits())}
    url = f"{client.api.base_url}/v{client.api.api_version}/build"
    response = client.api.post(url, params=params, data=context, headers={"Content-Type": "application/x-tar"},
                               stream=True, timeout=None)
    if response.status_code != 200:
        raise ImageError(f"building {tag} failed: Podman answered {response.status_code}: {response.text[:300]}")
    return (json.loads(line) for line in response.iter_lines() if line.strip())


def follow_build(stream: Iterator[dict[str, Any]], log: Log) -> str | None:
    image_id = None
    for chunk in stream:
        if "error" in chunk:
            raise ImageError(f"docker build failed: {chunk['error'].strip()}")
        text = str(chunk.get("stream", "")).strip()
        if text.lower().startswith("step "):  # Podman writes "STEP 1/10: ..."
            log(f"image: {text[:110]}")
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        elif text.startswith("Successfully built "):
            image_id = text.split()[-1]
    return image_id


def _run(cmd: list[str], what: str, timeout_s: float = STEP_TIMEOUT_S) -> None:
    """Run one build step with a time limit; failures and time-outs name the step."""
    run_step(cmd, what, timeout_s, error=ImageError)
