"""Build the guest's disk on the host: a Debian trixie root file system made with
debootstrap, configured to start the harness's agent, packed into an ext4 image.

Installing inside an emulated guest is slow (pip alone took minutes there), so the guest
gets everything from Debian's packages at build time: its kernel, systemd (which mounts
cgroup v2 only), docker.io with the systemd cgroup driver, and the Python libraries the
harness needs. The harness's own code is not in the image: it is shared into the guest
at each boot, so changing the harness never rebuilds the guest. The image is cached by
a digest of what goes into it, like the lab image.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import procs
from harness.config import HarnessConfig
from harness.errors import GuestError

Log = Callable[[str], None]

SUITE = "trixie"
PACKAGES = (
    "linux-image-amd64", "systemd-sysv", "udev", "dbus", "kmod", "procps", "iproute2",
    "docker.io", "docker-cli",
    # Podman's Docker-compatible API service, started by a job that asks for Podman; its
    # network backend (netavark) sets up published ports with nft and names with aardvark-dns.
    "podman", "nftables", "aardvark-dns",
    "python3", "python3-docker", "python3-httpx", "python3-pydantic", "python3-yaml", "python3-tabulate",
    # testcontainers' own dependencies (testcontainers itself is shared from the host's install)
    "python3-dotenv", "python3-wrapt", "python3-typing-extensions",
)
DISK_SIZE = "6G"
SHARE_TAG = "share"  # read-write: the harness's code, jobs and results
IMAGES_TAG = "images"  # read-only: the lab and ingress images saved on the host
AGENT_UNIT = "oom-harness-agent.service"
GUEST_HOSTNAME = "oom-harness-guest"

FSTAB = f"""\
/dev/vda / ext4 rw,noatime 0 1
{SHARE_TAG} /mnt/share 9p trans=virtio,version=9p2000.L,msize=524288,nofail 0 0
{IMAGES_TAG} /mnt/images 9p trans=virtio,version=9p2000.L,msize=524288,ro,nofail 0 0
"""

UNIT = """\
[Unit]
Description=oom-harness guest agent: loads the shared images, then runs the host's jobs
# Not After=docker.service: the agent imports what its jobs need while the engine starts,
# then waits for the engine itself. Wants, not Requires: a restart of dockerd (a fault
# the harness injects) must not stop the agent and the job it runs.
After=mnt-share.mount mnt-images.mount
Wants=docker.service
Requires=mnt-share.mount

[Service]
Type=simple
# Byte code goes to the guest's disk, never into the shared sources: compiled while a
# prepared disk is made (harness.vm.disks), so later boots import without compiling what
# did not change (the shared copy keeps the files' times).
Environment=PYTHONPATH=/mnt/share/src PYTHONPYCACHEPREFIX=/var/cache/oom-harness/pyc PYTHONUNBUFFERED=1
# No reaper in the guest: its disk is a throw-away snapshot, nothing in it outlives the boot.
Environment=TESTCONTAINERS_RYUK_DISABLED=true
ExecStart=/usr/bin/python3 -m harness.vm.agent /mnt/share /mnt/images
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
"""

#: The guest's engine: no iptables rules. Under emulation setting them up was about 9 s of
#: the engine's 14 s start (Docker 26.1.5); nothing here needs NAT or the isolation rules:
#: published ports (127.0.0.1 only) go through docker-proxy, containers on one network
#: reach each other on their bridge, and no container reaches outside the guest.
DAEMON_JSON = """\
{"iptables": false, "ip6tables": false}
"""

#: Units that only cost the guest's boot under emulation (2 to 3.5 s each in
#: systemd-analyze blame): no display, no EFI, no foreign binaries, no logins.
MASKED_UNITS = ("modprobe@drm.service", "modprobe@efi_pstore.service", "systemd-binfmt.service",
                "systemd-logind.service", "serial-getty@ttyS0.service",
                # Podman's own units: the harness starts Podman's service itself, when a job asks.
                "podman.socket", "podman-restart.service", "podman-auto-update.timer",
                "podman-clean-transient.service")
#: The journal in memory only: no flush to disk on the way to the agent.
JOURNALD_CONF = """\
[Journal]
Storage=volatile
"""

#: Bumped when the way the root file system is configured changes.
LAYOUT_VERSION = "3"


@dataclass(frozen=True)
class GuestImage:
    """A built guest: its disk, kernel and initrd, and what it holds."""

    digest: str
    disk: Path
    kernel: Path
    initrd: Path
    kernel_release: str
    packages: dict[str, str]  # name -> version, for the result's facts


def image_digest() -> str:
    """A digest of everything that goes into the guest's disk."""
    sha = hashlib.sha256()
    for part in (SUITE, " ".join(PACKAGES), FSTAB, UNIT, DAEMON_JSON, " ".join(MASKED_UNITS), JOURNALD_CONF,
                 DISK_SIZE, LAYOUT_VERSION):
        sha.update(part.encode() + b"\0")
    return sha.hexdigest()[:16]


def find_guest_image(config: HarnessConfig) -> GuestImage | None:
    """The cached guest for the current inputs, or None when it must be built."""
    folder = config.vm_dir / image_digest()
    manifest = folder / "guest.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
        return GuestImage(
            digest=data["digest"], disk=folder / "disk.img", kernel=folder / "vmlinuz",
            initrd=folder / "initrd.img", kernel_release=data["kernel_release"], packages=data["packages"])
    except (OSError, ValueError, KeyError) as exc:
        raise GuestError(
            f"{manifest}: unreadable guest manifest ({exc}); remove {folder} and run `harness vm setup`") from exc


def ensure_guest_image(config: HarnessConfig, log: Log = print, force: bool = False) -> GuestImage:
    """Find the cached guest, or build it (a few minutes, once per change of inputs)."""
    found = None if force else find_guest_image(config)
    if found is not None:
        log(f"vm: guest image {found.digest} is up to date ({found.disk})")
        return found
    return build_guest_image(config, log)


def build_guest_image(config: HarnessConfig, log: Log = print) -> GuestImage:
    """debootstrap, configure, pack; the cache folder appears whole or not at all."""
    digest = image_digest()
    final = config.vm_dir / digest
    config.vm_dir.mkdir(parents=True, exist_ok=True)
    debootstrap = require_tool("debootstrap", "debootstrap", log)
    mkfs = require_tool("mkfs.ext4", "e2fsprogs", log)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"{digest}.build-", dir=config.vm_dir) as tmp:
        work = Path(tmp)
        root = work / "root"
        cmd = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root)]
        if config.debian_mirror:
            cmd.append(config.debian_mirror)
        log(f"vm: debootstrap {SUITE} with its kernel, systemd, docker.io and the harness's Python packages ... "
            "about 2 minutes")
        run_step(cmd, "debootstrap of the guest", config.vm_build_timeout_s)
        configure_root(root)
        out = work / "out"
        out.mkdir()
        release = _copy_boot_files(root, out)
        packages = _package_versions(root)
        log("vm: packing the root file system into an ext4 image ...")
        run_step([mkfs, "-q", "-F", "-L", "oomroot", "-d", str(root), str(out / "disk.img"), DISK_SIZE],
                 "mkfs.ext4 of the guest disk", config.vm_build_timeout_s)
        (out / "guest.json").write_text(json.dumps(
            {"digest": digest, "suite": SUITE, "kernel_release": release, "packages": packages}, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        out.rename(final)
    log(f"vm: guest image {digest} built in {time.monotonic() - started:.0f} s ({final})")
    for old in remove_old_images(config.vm_dir, digest):
        log(f"vm: removed the guest image of earlier inputs ({old})")
    found = find_guest_image(config)
    assert found is not None
    return found


def remove_old_images(vm_dir: Path, current: str) -> list[Path]:
    """Remove the guest images built from earlier inputs (a few GB each): only the
    current one is ever booted. A guest still running from one keeps its open files."""
    removed = []
    for folder in vm_dir.iterdir():
        if folder.is_dir() and re.fullmatch(r"[0-9a-f]{16}", folder.name) and folder.name != current:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def configure_root(root: Path) -> None:
    """Make the debootstrapped tree boot straight into the agent, with nothing else to do."""
    (root / "etc/fstab").write_text(FSTAB)
    (root / "etc/hostname").write_text(f"{GUEST_HOSTNAME}\n")
    (root / "etc/docker").mkdir(parents=True, exist_ok=True)
    (root / "etc/docker/daemon.json").write_text(DAEMON_JSON)
    for mount in ("mnt/share", "mnt/images"):
        (root / mount).mkdir(parents=True, exist_ok=True)
    systemd = root / "etc/systemd/system"
    (systemd / AGENT_UNIT).write_text(UNIT)
    wants = systemd / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / AGENT_UNIT
    link.unlink(missing_ok=True)
    link.symlink_to(f"/etc/systemd/system/{AGENT_UNIT}")
    # Timers (apt, fstrim) and login prompts only cost boot time and CPU in the guest.
    for folder in ("timers.target.wants", "getty.target.wants"):
        shutil.rmtree(systemd / folder, ignore_errors=True)
    for unit in MASKED_UNITS:
        mask = systemd / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    journald = root / "etc/systemd/journald.conf.d"
    journald.mkdir(parents=True, exist_ok=True)
    (journald / "volatile.conf").write_text(JOURNALD_CONF)
    # Leave the apt caches out of the image.
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def _copy_boot_files(root: Path, out: Path) -> str:
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise GuestError(f"the guest's root file system has no kernel under {root / 'boot'}")
    release = kernels[-1].name.removeprefix("vmlinuz-")
    initrd = root / "boot" / f"initrd.img-{release}"
    if not initrd.is_file():
        raise GuestError(f"the guest's root file system has no initrd for kernel {release}")
    shutil.copy2(kernels[-1], out / "vmlinuz")
    shutil.copy2(initrd, out / "initrd.img")
    return release


def _package_versions(root: Path) -> dict[str, str]:
    wanted = {"linux-image-amd64", "docker.io", "python3", "systemd", "containerd", "runc", "podman", "crun", "conmon"}
    done = subprocess.run(
        ["dpkg-query", f"--admindir={root / 'var/lib/dpkg'}", "-W", "-f", "${Package} ${Version}\\n"],
        capture_output=True, text=True, timeout=60)
    versions = {}
    for line in done.stdout.splitlines():
        name, _, version = line.partition(" ")
        if name in wanted:
            versions[name] = version
    return versions


def require_tool(binary: str, package: str, log: Log) -> str:
    """The path of ``binary``; as root on Debian, Debian's ``package`` is installed first."""
    found = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if found:
        return found
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        raise GuestError(f"{binary} not found: install {package} (the guest is built and booted with it)")
    log(f"vm: installing {package} (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_step(["apt-get", "update", "-qq"], "apt-get update", 600, env)
    run_step(["apt-get", "install", "-y", "-qq", package], f"apt-get install {package}", 900, env)
    found = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if not found:
        raise GuestError(f"{binary} still not found after installing {package}")
    return found


def run_step(cmd: list[str], what: str, timeout_s: float, env: dict[str, str] | None = None) -> None:
    """Run one build step with a time limit; failures and time-outs name the step."""
    procs.run_step(cmd, what, timeout_s, error=GuestError, env=env)
