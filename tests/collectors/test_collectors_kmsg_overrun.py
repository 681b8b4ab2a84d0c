"""When the kernel's ring buffer overwrites records before the kernel log collector read
them (EPIPE on /dev/kmsg), the collector keeps where and how many were lost, so a kill in
that window is not judged from the log. The real fault: the ring buffer flooded while the
collector is held."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from harness.collectors import kernel_log
from harness.collectors.kernel_log import KernelLogCollector, KmsgGap
from harness.pytest_plugin import in_ci


def test_the_records_lost_to_an_overrun_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[bytes | OSError] = [b"6,10,1000000,-;before\n", OSError(errno.EPIPE, "Broken pipe"),
                                    b"6,15,3000000,-;after\n"]

    def read(fd: int, size: int) -> bytes:
        if not reads:
            raise BlockingIOError
        item = reads.pop(0)
        if isinstance(item, OSError):
            raise item
        return item

    collector = KernelLogCollector()
    collector._fd = -1
    monkeypatch.setattr(kernel_log.os, "read", read)
    collector._drain()
    assert [r.text for r in collector.snapshot()] == ["before", "after"]
    assert collector.gaps == [KmsgGap(1000000, 3000000, 4)]
    assert collector.gaps[0].describe() == "4 records between kernel times 1.000 and 3.000 s"
    wall = collector.boot_wall
    assert collector.lost_around([wall + 2.0]) == collector.gaps
    assert collector.lost_around([wall + 10.0]) == []


@pytest.mark.skipif(os.geteuid() != 0 and not in_ci(), reason="writing /dev/kmsg and printk_devkmsg needs root")
def test_a_real_overrun_of_the_kernels_ring_buffer() -> None:
    setting = Path("/proc/sys/kernel/printk_devkmsg")
    before = setting.read_text().strip()
    collector = KernelLogCollector()
    held, release = threading.Event(), threading.Event()
    drain = collector._drain

    hold = threading.Event()

    def held_drain() -> None:  # after its first records, the collector falls behind, as under a flood
        if hold.is_set():
            held.set()
            release.wait(30)
        drain()

    collector._drain = held_drain  # type: ignore[method-assign]
    setting.write_text("on\n")  # userspace writes to /dev/kmsg are rate-limited otherwise
    try:
        collector.start()
        fd = os.open("/dev/kmsg", os.O_WRONLY)
        try:
            os.write(fd, b"<6>oom-harness test: before the flood\n")
            deadline = time.monotonic() + 10
            while not any(r.text.endswith("before the flood") for r in collector.snapshot()):
                assert time.monotonic() < deadline, "the collector did not read the first record"
                time.sleep(0.01)
            hold.set()
            os.write(fd, b"<6>oom-harness test: the flood begins\n")
            assert held.wait(10)
            for i in range(4000):  # about 3 times the ring buffer of this machine
                os.write(fd, f"<7>oom-harness test: flood {i:05d} {'x' * 100}\n".encode())
        finally:
            os.close(fd)
        release.set()
        time.sleep(0.5)
    finally:
        setting.write_text(f"{before}\n")
        release.set()
        collector.stop()
    assert collector.gaps, "no overrun: the flood did not fill the ring buffer"
    gap = collector.gaps[0]
    assert gap.lost is not None and gap.lost > 100
    assert collector.status().available  # the log goes on; the run judges kills in the gap
