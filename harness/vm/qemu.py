"""Boot the guest with qemu and talk to its agent through a shared folder.

:class:`Guest` is a context manager like a container: entering boots the guest and waits
until its agent is ready; leaving stops qemu and removes the shared folder, also on
errors, time-outs and Ctrl-C. qemu runs with a parent-death signal, so a harness killed
hard takes its guest with it, and the disk is opened with ``snapshot=on``, so nothing a
run does in the guest outlives it.

KVM is used where a guest boots under it; otherwise software emulation (TCG). A
``/dev/kvm`` served by the ``kvm_pvm`` module (PVM) opens and creates VMs, but stock
Debian kernels do not boot under it, so such a machine goes straight to TCG.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.backends.docker.image import installed_sources
from harness.config import HarnessConfig
from harness.errors import GuestError
from harness.procs import alive
from harness.vm.agent import write_json
from harness.vm.image import IMAGES_TAG, SHARE_TAG, GuestImage, require_tool

Log = Callable[[str], None]

KVM_BOOT_TIMEOUT_S = 150.0
#: mitigations=off: the CPU-bug mitigations (page-table isolation, retpolines) cost most
#: under emulation, and the guest is a throw-away test machine that runs only the harness.
KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 quiet panic=-1 mitigations=off"
CONSOLE_TAIL = 1500


@dataclass(frozen=True)
class Accel:
    """How the guest's CPU is run, and why that way."""

    name: str  # "kvm" or "tcg"
    reason: str

    @property
    def args(self) -> list[str]:
        if self.name == "kvm":
            return ["-accel", "kvm", "-cpu", "host"]
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]


def choose_accel(setting: str, sys_module: Path = Path("/sys/module"), kvm: str = "/dev/kvm") -> Accel:
    """KVM where it can boot a stock kernel, else TCG; ``setting`` kvm/tcg forces one."""
    if setting == "tcg":
        return Accel("tcg", "software emulation asked for (OOM_HARNESS_VM_ACCEL=tcg)")
    if setting == "kvm":
        return Accel("kvm", "KVM asked for (OOM_HARNESS_VM_ACCEL=kvm)")
    if setting != "auto":
        raise GuestError(f"OOM_HARNESS_VM_ACCEL: {setting!r} is not auto, kvm or tcg")
    if (sys_module / "kvm_pvm").is_dir():
        return Accel("tcg", "software emulation: /dev/kvm is served by kvm_pvm (PVM), "
                            "under which stock Debian kernels do not boot")
    if not os.access(kvm, os.R_OK | os.W_OK):
        return Accel("tcg", f"software emulation: {kvm} is not usable here")
    return Accel("kvm", f"KVM ({kvm})")


def _die_with_parent() -> None:
    """In the qemu child: be killed when the harness dies, however it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Guest:
    """A booted guest, its agent ready for jobs; stopped when the ``with`` block ends."""

    def __init__(
        self, config: HarnessConfig, image: GuestImage, image_tars: list[Path], log: Log = print,
        disk: Path | None = None, writable: bool = False,
    ) -> None:
        """``image_tars`` are loaded by the guest's engine at boot (none when ``disk``, a
        disk prepared by :func:`harness.vm.disks.prepare_loaded_disk`, holds them already).
        ``writable`` keeps what the guest writes in ``disk``: only for preparing one."""
        self.config = config
        self.image = image
        self.image_tars = image_tars
        self.disk = disk or image.disk
        self.writable = writable
        self.log = log
        self.accel = choose_accel(config.vm_accel)
        self.ready: dict[str, Any] = {}
        self.boot_s = 0.0
        self._folder: Path | None = None
        self._qemu: subprocess.Popen[bytes] | None = None
        self._jobs = 0

    # --- life cycle ----------------------------------------------------------------------

    def __enter__(self) -> Guest:
        try:
            self._prepare_folder()
            self._boot_with_fallback()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop qemu (a second Ctrl-C during this still ends it) and remove the folder."""
        qemu, self._qemu = self._qemu, None
        if qemu is not None:
            for _ in range(3):
                try:
                    _terminate(qemu)
                    break
                except KeyboardInterrupt:
                    continue
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    @property
    def share(self) -> Path:
        assert self._folder is not None
        return self._folder / "share"

    @property
    def console_log(self) -> Path:
        assert self._folder is not None
        return self._folder / "console.log"

    def facts(self) -> dict[str, Any]:
        """What a result should say about where it ran."""
        return {
            "kind": "qemu guest", "accel": self.accel.name, "accel_reason": self.accel.reason,
            "boot_s": round(self.boot_s, 1), "image": self.image.digest,
            "kernel": self.image.kernel_release, "packages": self.image.packages,
            "images_loaded_s": self.ready.get("images_loaded_s", {}),
            "disk": self.disk.name,
        }

    def _prepare_folder(self) -> None:
        self.config.vm_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_folders(self.config.vm_dir)
        self._folder = Path(tempfile.mkdtemp(prefix="guest-", dir=self.config.vm_dir))
        (self._folder / "owner.pid").write_text(f"{os.getpid()}\n")
        share, images = self._folder / "share", self._folder / "images"
        (share / "jobs").mkdir(parents=True)
        images.mkdir()
        copy_sources(share / "src")
        for tar in self.image_tars:
            _link_or_copy(tar, images / tar.name)

    def _boot_with_fallback(self) -> None:
        try:
            self._boot_once_more_after_a_panic(
                KVM_BOOT_TIMEOUT_S if self.accel.name == "kvm" else self.config.vm_boot_timeout_s)
        except GuestError as exc:
            if self.accel.name != "kvm" or self.config.vm_accel == "kvm":
                raise
            self.log(f"vm: the guest did not boot under KVM ({exc}); using software emulation")
            self.accel = Accel("tcg", f"software emulation: the guest did not boot under KVM ({exc})")
            for name in ("ready.json", "failed.json"):
                (self.share / name).unlink(missing_ok=True)
            self._boot(self.config.vm_boot_timeout_s)

    def _boot_once_more_after_a_panic(self, timeout_s: float) -> None:
        """Boot; when the guest's kernel panicked on the way (seen once under emulation, in
        the idle loop 2.5 s into the boot: an emulator's fault, not the harness's), boot
        again, once, and say so."""
        try:
            self._boot(timeout_s)
        except GuestError as exc:
            if not kernel_panicked(self._console_text()):
                raise
            self.log(f"vm: the guest's kernel panicked while booting ({first_panic_line(self._console_text())}); "
                     "booting it once more")
            self.console_log.replace(self.console_log.with_name("console.panic.log"))
            for name in ("ready.json", "failed.json"):
                (self.share / name).unlink(missing_ok=True)
            try:
                self._boot(timeout_s)
            except GuestError as again:
                raise GuestError(f"{again} (the boot before it had panicked: {first_panic_line(str(exc))})") from exc

    def _console_text(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except OSError:
            return ""

    def _boot(self, timeout_s: float) -> None:
        qemu = require_tool("qemu-system-x86_64", "qemu-system-x86", self.log)
        if self._qemu is not None:
            _terminate(self._qemu)
        assert self._folder is not None
        cmd = [
            qemu, *self.accel.args, "-smp", "2", "-m", str(self.config.vm_memory_mb),
            "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
            "-append", KERNEL_ARGS,
            "-drive", self._drive(),
            "-virtfs", f"local,path={self.share},mount_tag={SHARE_TAG},security_model=none",
            "-virtfs", f"local,path={self._folder / 'images'},mount_tag={IMAGES_TAG},security_model=none,readonly=on",
            "-nic", "none", "-display", "none", "-serial", f"file:{self.console_log}", "-no-reboot",
        ]
        self.log(f"vm: booting the guest ({self.accel.reason}) ...")
        started = time.monotonic()
        with (self._folder / "qemu.err").open("wb") as err:  # qemu keeps its own copy of the descriptor
            self._qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                          preexec_fn=_die_with_parent, start_new_session=True)
        self.ready = self._wait_ready(started + timeout_s, timeout_s)
        self.boot_s = time.monotonic() - started
        loaded = ", ".join(f"{k} {v:g} s" for k, v in self.ready.get("images_loaded_s", {}).items())
        self.log(f"vm: guest ready in {self.boot_s:.0f} s (docker {self.ready['engine']['version']}, "
                 f"cgroup v{self.ready['engine']['cgroup_version']}, kernel {self.ready['engine']['kernel']}; "
                 f"images loaded: {loaded or 'none'})")

    def _drive(self) -> str:
        """The root disk: raw or a prepared qcow2; a throw-away snapshot unless writable."""
        kind = "qcow2" if _is_qcow2(self.disk) else "raw"
        return f"file={self.disk},if=virtio,format={kind}" + ("" if self.writable else ",snapshot=on")

    def power_off(self, timeout_s: float) -> None:
        """Shut the guest down cleanly (its file systems and engine flushed), within
        ``timeout_s``: how a writable disk is finished."""
        if self._qemu is None:
            raise GuestError("the guest is not running")
        self._jobs += 1
        write_json(self.share / "jobs" / f"{self._jobs:04d}.json", {"kind": "poweroff"})
        try:
            code = self._qemu.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise GuestError(f"the guest did not power off within {timeout_s:.0f} s{self._console_tail()}") from exc
        self._qemu = None
        if code != 0:
            raise GuestError(f"qemu exited with {code} while the guest powered off{self._console_tail()}")

    def _wait_ready(self, deadline: float, timeout_s: float) -> dict[str, Any]:
        ready, failed = self.share / "ready.json", self.share / "failed.json"
        while time.monotonic() < deadline:
            if ready.exists():
                return dict(json.loads(ready.read_text()))
            if failed.exists():
                raise GuestError(f"the guest's agent failed: {json.loads(failed.read_text())['error']}")
            self._check_alive()
            time.sleep(0.5)
        raise GuestError(f"the guest was not ready within {timeout_s:.0f} s"
                         f"{self._console_tail()}")

    def _check_alive(self) -> None:
        if self._qemu is not None and self._qemu.poll() is not None:
            assert self._folder is not None
            err = (self._folder / "qemu.err").read_text(errors="replace").strip()[-400:]
            raise GuestError(f"qemu exited with {self._qemu.returncode}: {err or 'no message'}{self._console_tail()}")

    def _console_tail(self) -> str:
        try:
            text = self.console_log.read_text(errors="replace")
        except OSError:
            return ""
        return f"; the guest's console ended with: {text[-CONSOLE_TAIL:].strip()!r}" if text.strip() else ""

    # --- jobs ------------------------------------------------------------------------------

    def run_job(self, job: dict[str, Any], timeout_s: float, on_line: Log | None = None) -> tuple[int, dict[str, Any]]:
        """Hand ``job`` to the agent and wait (bounded) for its exit code and output."""
        self._jobs += 1
        path = self.share / "jobs" / f"{self._jobs:04d}.json"
        write_json(path, job)
        log, done, out = path.with_suffix(".log"), path.with_suffix(".done"), path.with_suffix(".out.json")
        deadline = time.monotonic() + timeout_s
        offset = 0
        while True:
            offset = _follow(log, offset, on_line)
            if done.exists():
                _follow(log, offset, on_line)
                code = int(done.read_text().strip() or "3")
                data = json.loads(out.read_text()) if out.exists() else {"error": f"job ended with {code}, no output"}
                return code, dict(data)
            self._check_alive()
            if time.monotonic() > deadline:
                raise GuestError(f"the job in the guest did not finish within {timeout_s:.0f} s")
            time.sleep(0.3)


def kernel_panicked(console: str) -> bool:
    """Whether the guest's console shows its kernel panicking."""
    return "Kernel panic - not syncing" in console


def first_panic_line(console: str) -> str:
    """The panic's own line (``Kernel panic - not syncing: ...``), or the first words of ``console``."""
    for line in console.replace("\\n", "\n").splitlines():
        if "Kernel panic - not syncing" in line:
            return line[line.index("Kernel panic"):].strip()[:160]
    return console.strip()[:160]


def _is_qcow2(path: Path) -> bool:
    """By its magic, not its name: a disk being prepared has a temporary name."""
    try:
        with path.open("rb") as f:
            return f.read(4) == b"QFI\xfb"
    except OSError:
        return False


def _follow(log: Path, offset: int, on_line: Log | None) -> int:
    """Pass on the complete lines written to ``log`` since ``offset``; the new offset."""
    if on_line is None or not log.exists():
        return offset
    with log.open("rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode("utf-8", "replace").splitlines():
        for part in line.split("\r"):
            if part.strip():
                on_line(part.rstrip())
    return offset + end


def _terminate(qemu: subprocess.Popen[bytes]) -> None:
    if qemu.poll() is not None:
        return
    qemu.terminate()
    try:
        qemu.wait(timeout=5)
    except subprocess.TimeoutExpired:
        qemu.kill()
        qemu.wait(timeout=5)


def remove_stale_folders(vm_dir: Path) -> list[Path]:
    """Remove the folders of guests whose harness is gone (killed hard: its qemu died with
    it, through the parent-death signal, but the folder stayed)."""
    removed = []
    for folder in vm_dir.glob("guest-*"):
        try:
            pid = int((folder / "owner.pid").read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if (pid and alive(pid)) or (not pid and time.time() - folder.stat().st_mtime < 60):
            continue  # alive, or just being made by another harness
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def copy_sources(dest: Path) -> None:
    """The harness's own code for the guest's Python, and testcontainers (pure Python, not
    packaged by Debian; its dependencies are in the guest's image)."""
    import testcontainers

    import harness

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in (harness, testcontainers):
        src = Path(str(package.__file__)).resolve().parent
        shutil.copytree(src, dest / src.name, ignore=ignore)
    # The lab (labapp/ in a clone) goes where an installed wheel has it: harness/lab.
    lab = installed_sources().lab
    if not (dest / "harness" / "lab").exists():
        shutil.copytree(lab, dest / "harness" / "lab", ignore=ignore)
    # testcontainers reads its own version from its metadata.
    metadata = next(f for f in distribution("testcontainers").files or () if f.name == "METADATA")
    info = Path(str(metadata.locate())).parent
    shutil.copytree(info, dest / info.name, ignore=ignore)


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
