"""Nothing of a guest outlives the harness: Ctrl-C (twice), SIGTERM and SIGHUP during a
``harness run --vm`` stop qemu and remove the guest's folder; no result is written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guest_testkit import ROOT

from harness.config import HarnessConfig

pytestmark = pytest.mark.vm


def _qemu_folders() -> set[str]:
    """The guest folders named on the command line of every running qemu."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"qemu-system-x86_64"):
            found |= {a.decode() for a in args if b"/guest-" in a}
    return found


@pytest.mark.parametrize("signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,), (signal.SIGHUP,)],
                         ids=["ctrl-c twice", "sigterm", "sighup"])
def test_a_signal_while_the_guest_boots_leaves_nothing(
    guest_image: object, tmp_path: Path, signals: tuple[signal.Signals, ...]
) -> None:
    vm_dir = HarnessConfig().vm_dir
    before = set(vm_dir.glob("guest-*"))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(ROOT / "scenarios" / "spike.yaml"), "--vm", "--out", str(out)],
        stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=tmp_path)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if "booting the guest" in line or time.monotonic() > deadline:
            break
    time.sleep(3.0)  # qemu is running
    mine = set(vm_dir.glob("guest-*")) - before
    assert mine, "the run made no guest folder"
    for signum in signals:
        os.kill(proc.pid, signum)
        time.sleep(0.2)
    assert proc.wait(timeout=60) == 130
    assert not (set(vm_dir.glob("guest-*")) - before)
    assert not {f for f in _qemu_folders() if any(str(m) in f for m in mine)}
    assert not out.exists()
