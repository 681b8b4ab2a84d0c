"""A collector whose thread did not end keeps its descriptors open: closed under a running
thread, a descriptor's number can be reused by another open, and the thread's next pread
would read someone else's file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cgroupfs import CgroupMemory
from harness.collectors.cgroup import CgroupOomCollector
from harness.collectors.memory import MemorySampler

RECORDED_V2 = Path(__file__).resolve().parents[1] / "data" / "recorded" / "cgroup_v2" / "before"


@pytest.fixture
def cgroup(tmp_path: Path) -> CgroupMemory:
    folder = tmp_path / "cg"
    shutil.copytree(RECORDED_V2, folder)
    return CgroupMemory(2, folder)


def _open_fds(sampler: MemorySampler) -> list[int | None]:
    return [counter._fd for counter in (sampler._usage, sampler._inactive, sampler._peak) if counter is not None]


@pytest.mark.parametrize("ended", [True, False], ids=["thread ended", "thread still running"])
def test_the_sampler_closes_its_files_only_when_its_thread_ended(cgroup: CgroupMemory, ended: bool) -> None:
    sampler = MemorySampler(cgroup, interval=0.05)
    sampler.start()
    assert all(fd is not None for fd in _open_fds(sampler))
    real_stop = sampler.thread.stop
    sampler.thread.stop = lambda: real_stop() and ended  # type: ignore[method-assign]
    sampler.stop()
    assert sampler.highwater is not None  # the final reading is taken either way
    assert all((fd is None) == ended for fd in _open_fds(sampler))


@pytest.mark.parametrize("ended", [True, False], ids=["thread ended", "thread still running"])
def test_the_oom_watch_closes_its_notifier_only_when_its_thread_ended(cgroup: CgroupMemory, ended: bool) -> None:
    watch = CgroupOomCollector(cgroup, interval=0.02, safety_interval=0.05)
    watch.start()
    assert watch.notifier is not None and watch.notifier._fds
    real_stop = watch.thread.stop
    watch.thread.stop = lambda: real_stop() and ended  # type: ignore[method-assign]
    watch.stop()
    assert bool(watch.notifier._fds) == (not ended)
    watch.notifier.close()
