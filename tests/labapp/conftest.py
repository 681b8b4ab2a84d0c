"""Fixtures for the lab app tests: fake cgroup trees, a small-sized app, child processes."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# `python -m pytest` puts the repo on sys.path but a bare `pytest` does not.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from harness.lab.app import EXTENSION_KEY, LabState, create_app  # noqa: E402
from harness.lab.config import LabConfig  # noqa: E402

MB = 1024 * 1024

V2_STAT = """anon 104857600
file 52428800
kernel 3145728
kernel_stack 131072
pagetables 421888
sec_pagetables 0
percpu 1200
sock 0
vmalloc 8192
shmem 0
zswap 0
zswapped 0
file_mapped 4096000
file_dirty 0
file_writeback 0
swapcached 0
anon_thp 0
file_thp 0
shmem_thp 0
inactive_anon 104000000
active_anon 857600
inactive_file 41943040
active_file 10485760
unevictable 0
slab_reclaimable 1048576
slab_unreclaimable 524288
slab 1572864
workingset_refault_anon 0
workingset_refault_file 12
workingset_activate_anon 0
workingset_activate_file 3
workingset_restore_anon 0
workingset_restore_file 0
workingset_nodereclaim 0
pgscan 120
pgsteal 100
pgfault 51234
pgmajfault 7
pgrefill 0
pgactivate 10
pgdeactivate 0
pglazyfree 0
pglazyfreed 0
thp_fault_alloc 0
thp_collapse_alloc 0
"""

PRESSURE_ZERO = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"

V2_FILES = {
    "cgroup.controllers": "cpuset cpu io memory pids\n",
    "memory.current": f"{160 * MB}\n",
    "memory.max": f"{512 * MB}\n",
    "memory.peak": f"{500 * MB}\n",
    "memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
    "memory.stat": V2_STAT,
    "memory.pressure": PRESSURE_ZERO,
}

V1_STAT = """cache 52428800
rss 104857600
rss_huge 0
shmem 0
mapped_file 4096000
dirty 0
writeback 0
swap 0
pgpgin 40000
pgpgout 10000
pgfault 51234
pgmajfault 7
inactive_anon 104000000
active_anon 857600
inactive_file 41943040
active_file 10485760
unevictable 0
hierarchical_memory_limit 536870912
hierarchical_memsw_limit 9223372036854771712
total_cache 52428800
total_rss 104857600
total_rss_huge 0
total_shmem 0
total_mapped_file 4096000
total_dirty 0
total_writeback 0
total_swap 0
total_pgpgin 40000
total_pgpgout 10000
total_pgfault 51234
total_pgmajfault 7
total_inactive_anon 104000000
total_active_anon 857600
total_inactive_file 41943040
total_active_file 10485760
total_unevictable 0
"""

V1_FILES = {
    "memory.usage_in_bytes": f"{160 * MB}\n",
    "memory.limit_in_bytes": f"{512 * MB}\n",
    "memory.max_usage_in_bytes": f"{500 * MB}\n",
    "memory.failcnt": "42\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    "memory.stat": V1_STAT,
}


def write_files(directory: Path, files: dict[str, str]) -> Path:
    """Create ``directory`` holding ``files`` (name -> content); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(content)
    return directory


@pytest.fixture
def make_cgroup(tmp_path: Path) -> Callable[..., Path]:
    """Build a fake cgroup directory of ``version`` minus ``drop``, with ``files`` replaced."""
    counter = iter(range(1_000_000))

    def make(version: int, drop: tuple[str, ...] = (), files: dict[str, str] | None = None) -> Path:
        content = dict(V2_FILES if version == 2 else V1_FILES)
        for name in drop:
            del content[name]
        content.update(files or {})
        return write_files(tmp_path / f"cg{version}-{next(counter)}", content)

    return make


@pytest.fixture
def v2_dir(tmp_path: Path) -> Path:
    """A complete cgroup v2 memory directory with a 512 MiB limit and one OOM kill."""
    return write_files(tmp_path / "v2", V2_FILES)


@pytest.fixture
def v1_dir(tmp_path: Path) -> Path:
    """A complete cgroup v1 memory-controller directory with a 512 MiB limit."""
    return write_files(tmp_path / "v1", V1_FILES)


@pytest.fixture
def lab_config(v2_dir: Path) -> LabConfig:
    """Small limits so every test allocates only a few MB."""
    return LabConfig(max_mb=64, blob_concurrency=2, leak_block_kb=64, cgroup_root=v2_dir, blob_wait_s=0.3)


@pytest.fixture
def app(lab_config: LabConfig) -> Iterator[object]:
    """A fresh app; its allocator is stopped and memory dropped afterwards."""
    application = create_app(lab_config)
    yield application
    state: LabState = application.extensions[EXTENSION_KEY]
    state.allocator.stop()
    wait_until(lambda: not state.allocator.running)
    state.allocations.clear()
    state.leaks.clear()


@pytest.fixture
def state(app: object) -> LabState:
    """The app's internal state, for white-box checks."""
    return app.extensions[EXTENSION_KEY]  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def client(app: object) -> object:
    """A Flask test client for ``app``."""
    return app.test_client()  # type: ignore[attr-defined]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def waiter() -> Callable[..., bool]:
    """The :func:`wait_until` helper as a fixture (test modules cannot import conftest)."""
    return wait_until


class ChildProcess:
    """A lab module run as a child process, with its stdout collected line by line."""

    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO_ROOT,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Block until a line matches ``pattern`` (regex search); fail on timeout or EOF."""
        for seen in self.lines:
            match = re.search(pattern, seen)
            if match:
                return match
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {self.lines}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"process ended without a line matching {pattern!r}: {self.lines}")
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def finish(self, timeout: float = 10.0) -> int:
        """Wait for exit, collect the remaining output, and return the exit code."""
        code = self.proc.wait(timeout=timeout)
        while True:
            line = self._queue.get(timeout=timeout)
            if line is None:
                break
            self.lines.append(line)
        return code

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child."""
        self.proc.send_signal(signum)

    def kill(self) -> None:
        """Make sure the child is gone (test cleanup)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def run_module() -> Iterator[Callable[..., ChildProcess]]:
    """Start ``python <args...>`` children that are killed at teardown if still running."""
    children: list[ChildProcess] = []

    def start(*args: str) -> ChildProcess:
        child = ChildProcess(list(args))
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()
