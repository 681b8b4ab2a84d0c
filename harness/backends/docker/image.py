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
import io
import os
import platform
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound
from docker.models.images import Image

from harness.backends.docker.engine_errors import ENGINE_ERRORS, first_line
from harness.backends.docker.pull import can_bound, pull_within
from harness.config import HarnessConfig
from harness.errors import ImageError
from harness.procs import run_step

Log = Callable[[str], None]

#: The time limit of one long build step (apt-get, debootstrap, pip download, tar).
STEP_TIMEOUT_S = 900.0

#: The harness package's folder: the lab image's sources ship inside it (as package data
#: in a wheel), so an installed harness builds the image with no clone at hand.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]

#: What goes into the lab image, relative to the package: the image's inputs and its cache key.
SOURCE_PATTERNS = ("lab/Dockerfile", "lab/requirements.txt", "lab/*.py", "cgroupfs.py")

#: The image's ``harness/__init__.py``: the lab and the cgroup reader, not the harness.
IMAGE_PACKAGE_INIT = '"""The lab image\'s copy of harness.lab and harness.cgroupfs (not the harness itself)."""\n'


@dataclass(frozen=True)
class ImageBuild:
    """The outcome of ``build_lab_image``: which tag, from which base, and whether cached."""

    tag: str
    image_id: str
    base: str
    path: str  # "online", "offline" or "cached"
    digest: str


def source_files(package_root: Path = PACKAGE_ROOT) -> list[Path]:
    """The lab image's source files under ``package_root``, in a stable order."""
    return [path for pattern in SOURCE_PATTERNS for path in sorted(package_root.glob(pattern))]


def source_digest(package_root: Path = PACKAGE_ROOT) -> str:
    """A digest of every file that goes into the lab image (names and contents)."""
    sha = hashlib.sha256()
    for path in source_files(package_root):
        sha.update(str(path.relative_to(package_root)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def assemble_context(package_root: Path, dest: Path, wheels: Path | None) -> Path:
    """Lay out the build context in ``dest``: the Dockerfile and requirements at the top,
    the lab under ``harness/lab`` with the shared ``harness/cgroupfs.py``, and ``wheels/``
    (empty on the online path)."""
    lab = package_root / "lab"
    if not (lab / "Dockerfile").is_file() or not (lab / "requirements.txt").is_file():
        raise ImageError(f"the lab image's sources are missing under {lab} (Dockerfile, requirements.txt): "
                         "reinstall oom-harness")
    shutil.copyfile(lab / "Dockerfile", dest / "Dockerfile")
    shutil.copyfile(lab / "requirements.txt", dest / "requirements.txt")
    (dest / "harness" / "lab").mkdir(parents=True)
    (dest / "harness" / "__init__.py").write_text(IMAGE_PACKAGE_INIT)
    shutil.copyfile(package_root / "cgroupfs.py", dest / "harness" / "cgroupfs.py")
    for module in sorted(lab.glob("*.py")):
        shutil.copyfile(module, dest / "harness" / "lab" / module.name)
    (dest / "wheels").mkdir()
    for wheel in sorted(wheels.glob("*.whl")) if wheels else ():
        shutil.copyfile(wheel, dest / "wheels" / wheel.name)
    return dest


def build_lab_image(
    client: docker.DockerClient, config: HarnessConfig, log: Log = print, force: bool = False,
    package_root: Path = PACKAGE_ROOT,
) -> ImageBuild:
    """Build (or reuse) the lab image tagged ``config.image`` from the installed package."""
    digest = source_digest(package_root)
    cached = cached_image(client, config.image, config.label, digest)
    if cached is not None and not force:
        log(f"image: {config.image} is up to date (sources {digest})")
        return ImageBuild(config.image, str(cached.id), "", "cached", digest)
    base, path = choose_base(client, config, log)
    wheels = download_wheels(package_root / "lab" / "requirements.txt", config.wheel_cache, log) \
        if path == "offline" else None
    with tempfile.TemporaryDirectory(prefix="oom-harness-context-") as tmp:
        context = assemble_context(package_root, Path(tmp), wheels)
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
        stream = client.api.build(
            fileobj=_tar_context({"Dockerfile": dockerfile.encode(), **(extra or {})}), custom_context=True,
            tag=tag, buildargs={"BASE_IMAGE": base},
            labels={config.label: role, f"{config.label}.sources": digest}, rm=True, forcerm=True, decode=True,
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
        repository, _, tag = config.offline_base_image.partition(":")
        try:
            client.api.import_image_from_file(
                str(tarball), repository=repository, tag=tag or "latest",
                changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"],
            )
        except DockerException as exc:
            raise ImageError(f"docker import of the offline base failed: {exc}") from exc
    log(f"image: offline base {config.offline_base_image} ready")


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
        stream = client.api.build(
            path=str(context), tag=config.image, buildargs={"BASE_IMAGE": base},
            labels={config.label: "labapp", f"{config.label}.sources": digest},
            rm=True, forcerm=True, decode=True,
        )
        image_id = follow_build(stream, log)
    except (APIError, BuildError) as exc:
        raise ImageError(f"docker build failed: {exc}") from exc
    if image_id is None:
        raise ImageError("docker build finished without an image id")
    return image_id


def follow_build(stream: Iterator[dict[str, Any]], log: Log) -> str | None:
    image_id = None
    for chunk in stream:
        if "error" in chunk:
            raise ImageError(f"docker build failed: {chunk['error'].strip()}")
        text = str(chunk.get("stream", "")).strip()
        if text.startswith("Step "):
            log(f"image: {text[:110]}")
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        elif text.startswith("Successfully built "):
            image_id = text.split()[-1]
    return image_id


def _run(cmd: list[str], what: str, timeout_s: float = STEP_TIMEOUT_S) -> None:
    """Run one build step with a time limit; failures and time-outs name the step."""
    run_step(cmd, what, timeout_s, error=ImageError)
