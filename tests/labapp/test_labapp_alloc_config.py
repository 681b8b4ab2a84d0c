"""Allocation helpers, the block store, RSS reading and LabConfig.from_env."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.lab import alloc
from harness.lab.config import LabConfig
from harness.lab.logline import format_mb


def test_touch_pages_writes_one_byte_per_page() -> None:
    block = bytearray(3 * alloc.PAGE_SIZE + 10)
    alloc.touch_pages(block)
    assert [block[i] for i in range(0, len(block), alloc.PAGE_SIZE)] == [1, 1, 1, 1]
    assert block.count(1) == 4


def test_allocate_mb_is_fully_sized_and_touched() -> None:
    block = alloc.allocate_mb(2)
    assert len(block) == 2 * alloc.MB
    assert block[:: alloc.PAGE_SIZE] == b"\x01" * (2 * alloc.MB // alloc.PAGE_SIZE)


def test_allocate_mb_raises_rss() -> None:
    before = alloc.rss_kb()
    block = alloc.allocate_mb(16)
    after = alloc.rss_kb()
    assert before is not None and after is not None
    assert after - before > 12 * 1024
    del block


def test_rss_unreadable_is_none(tmp_path: Path) -> None:
    assert alloc.rss_kb(tmp_path / "missing") is None
    assert alloc.rss_mb(tmp_path / "missing") is None
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmRSS:\t  2048 kB\n")
    assert alloc.rss_mb(status) == 2.0


def test_block_store_is_thread_safe() -> None:
    store = alloc.BlockStore()

    def add_many() -> None:
        for _ in range(100):
            store.add(bytearray(10))

    threads = [threading.Thread(target=add_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count == 400
    assert store.total_bytes == 4000
    assert store.clear() == 400
    assert store.count == 0 and store.total_mb == 0


def test_config_defaults() -> None:
    config = LabConfig.from_env({})
    assert config == LabConfig(
        max_mb=4096, blob_concurrency=4, leak_block_kb=1024, cgroup_root=Path("/sys/fs/cgroup"), blob_wait_s=30.0
    )


def test_config_from_env() -> None:
    config = LabConfig.from_env(
        {
            "LABAPP_MAX_MB": "256",
            "LABAPP_BLOB_CONCURRENCY": "12",
            "LABAPP_LEAK_BLOCK_KB": "2048",
            "LABAPP_CGROUP_ROOT": "/host/cgroup",
            "LABAPP_BLOB_WAIT_S": "2.5",
        }
    )
    assert (config.max_mb, config.blob_concurrency, config.leak_block_kb) == (256, 12, 2048)
    assert config.cgroup_root == Path("/host/cgroup")
    assert config.blob_wait_s == 2.5


def test_config_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABAPP_MAX_MB", "100")
    assert LabConfig.from_env().max_mb == 100


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LABAPP_MAX_MB", "lots"),
        ("LABAPP_MAX_MB", "0"),
        ("LABAPP_BLOB_CONCURRENCY", "-1"),
        ("LABAPP_LEAK_BLOCK_KB", "1.5"),
        ("LABAPP_BLOB_WAIT_S", "0"),
        ("LABAPP_BLOB_WAIT_S", "soon"),
    ],
)
def test_config_rejects_bad_values_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        LabConfig.from_env({name: value})


def test_format_mb() -> None:
    assert format_mb(496.08) == "496.1"
    assert format_mb(None) == "None"
