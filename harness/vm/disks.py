"""The guest's disk with the harness's images already in its engine.

Loading the saved lab, proxy and monitoring images into the guest's engine took 130 s of
every boot under emulation (docker load of 1 GB: 72 + 27 + 31 s, Docker 26.1.5, TCG).
They are loaded once instead: a qcow2 disk on top of the guest's base disk is booted
writable, the guest's engine loads the images, the guest powers off cleanly, and the disk
is kept, named by the images it holds. Every later boot opens it as a throw-away snapshot
and is ready without loading anything.

A disk appears whole or not at all: it is prepared under a temporary name and renamed
when the guest has powered off; a harness killed while preparing leaves a temporary file
that the next one removes.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import replace
from pathlib import Path

from harness.config import HarnessConfig
from harness.procs import alive
from harness.vm.image import GuestImage, Log, require_tool, run_step

#: A clean shutdown of the guest (engine stopped, disks unmounted) under emulation.
POWER_OFF_TIMEOUT_S = 180.0
#: The bound on the boot that loads the images (boot plus loads into Docker and Podman):
#: 252 to 354 s measured under TCG on an idle 2-core machine, over 420 s on a busy one.
PREPARE_BOOT_TIMEOUT_S = 1200.0
PREFIX = "images-"
TEMPORARY = re.compile(r"^images-[0-9a-f]{16}\.qcow2\.tmp-(\d+)$")


def loaded_disk_path(image: GuestImage, tars: list[Path]) -> Path:
    """Where the disk holding ``tars`` (named by their images' ids) is kept."""
    key = hashlib.sha256("\0".join(sorted(t.name for t in tars)).encode()).hexdigest()[:16]
    return image.disk.parent / f"{PREFIX}{key}.qcow2"


def find_loaded_disk(image: GuestImage, tars: list[Path]) -> Path | None:
    """The prepared disk for ``tars``, or None when it must be prepared."""
    path = loaded_disk_path(image, tars)
    return path if path.is_file() else None


def prepare_loaded_disk(config: HarnessConfig, image: GuestImage, tars: list[Path], log: Log = print) -> Path:
    """The disk whose engine holds ``tars``: found, or prepared in one boot of the guest."""
    from harness.vm.qemu import Guest

    found = find_loaded_disk(image, tars)
    if found is not None:
        return found
    final = loaded_disk_path(image, tars)
    remove_stale_disks(image.disk.parent)
    qemu_img = require_tool("qemu-img", "qemu-utils", log)
    temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    started = time.monotonic()
    try:
        run_step([qemu_img, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image.disk.resolve()),
                  str(temporary)], "qemu-img create of the guest's image disk", 60)
        log(f"vm: loading {len(tars)} image(s) into the guest's engine once, for every later boot ...")
        loading = replace(config, vm_boot_timeout_s=max(config.vm_boot_timeout_s, PREPARE_BOOT_TIMEOUT_S))
        with Guest(loading, image, tars, log, disk=temporary, writable=True) as guest:
            guest.power_off(POWER_OFF_TIMEOUT_S)
        temporary.rename(final)
    finally:
        temporary.unlink(missing_ok=True)
    for old in final.parent.glob(f"{PREFIX}*.qcow2"):
        if old != final:
            old.unlink(missing_ok=True)  # a guest still booted from it keeps its open file
    log(f"vm: image disk {final.name} prepared in {time.monotonic() - started:.0f} s")
    return final


def remove_stale_disks(folder: Path) -> list[Path]:
    """Remove the temporary disks of preparations whose harness is gone."""
    removed = []
    for path in folder.glob(f"{PREFIX}*.tmp-*"):
        match = TEMPORARY.match(path.name)
        if match is None or alive(int(match.group(1))):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed

