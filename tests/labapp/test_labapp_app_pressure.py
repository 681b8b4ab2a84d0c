"""Memory-pressure endpoints (/leak, /heavy, /diag/*) and the /proc parsers behind them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.lab import procfs
from harness.lab.app import LabState

PID = os.getpid()

MEMINFO = """MemTotal:        1955532 kB
MemFree:          102240 kB
MemAvailable:     523896 kB
Buffers:           20480 kB
Cached:           486820 kB
SwapCached:        10240 kB
SwapTotal:       4194300 kB
SwapFree:        3809772 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""

VMSTAT = """nr_free_pages 25560
pgfault 9876543
pgmajfault 1234
pswpin 163021
pswpout 223248
pgsteal_kswapd 2839945
pgsteal_direct 10000
pgscan_kswapd 6114788
pgscan_direct 214825
allocstall_normal 1122
allocstall_movable 867
workingset_refault_file 55
oom_kill 2
nr_dirty 12
"""


# --- /leak -----------------------------------------------------------------------------


def test_leak_retains_one_block_per_call(client: Any, state: LabState) -> None:
    first = client.post("/leak").get_json()
    second = client.post("/leak").get_json()
    assert first == {"action": "leaked", "block_kb": 64, "leak_blocks": 1, "leak_mb": 0.1, "pid": PID}
    assert second["leak_blocks"] == 2
    assert state.leaks.total_bytes == 2 * 64 * 1024


def test_leak_block_size_from_body(client: Any, state: LabState) -> None:
    body = client.post("/leak", json={"kb": 2048}).get_json()
    assert body["block_kb"] == 2048
    assert body["leak_mb"] == 2.0
    assert state.leaks.count == 1


# --- /heavy ----------------------------------------------------------------------------


def test_heavy_get_with_defaults(client: Any, state: LabState) -> None:
    body = client.get("/heavy").get_json()
    assert body["mb"] == 32
    assert body["cpu_ms"] == 100
    assert body["rounds"] >= 1
    assert 100 <= body["elapsed_ms"] < 5000
    assert state.allocations.count == 0 and state.leaks.count == 0


def test_heavy_post_with_sizes(client: Any) -> None:
    body = client.post("/heavy", json={"mb": 2, "cpu_ms": 10}).get_json()
    assert (body["mb"], body["cpu_ms"]) == (2, 10)
    assert body["elapsed_ms"] >= 10


def test_heavy_zero_work_is_allowed(client: Any) -> None:
    body = client.post("/heavy", json={"mb": 0, "cpu_ms": 0}).get_json()
    assert body["rounds"] == 0


# --- /diag/stats -----------------------------------------------------------------------


def test_diag_stats_counts_requests_per_route(client: Any) -> None:
    for _ in range(3):
        client.post("/leak")
    client.post("/heavy", json={"mb": 0, "cpu_ms": 0})
    client.get("/health")
    body = client.get("/diag/stats").get_json()
    assert body["pid"] == PID
    assert body["uptime_s"] >= 0
    assert body["request_counts"] == {"/leak": 3, "/heavy": 1, "/health": 1, "/diag/stats": 1}
    assert body["request_total"] == 6
    assert body["leak_blocks"] == 3
    assert body["leak_mb"] == 0.2
    assert body["blob"] == {"slots": 2, "active": 0, "waiting": 0}


# --- /diag/proc ------------------------------------------------------------------------


def test_diag_proc_shape(client: Any, v2_dir: Path) -> None:
    body = client.get("/diag/proc").get_json()
    assert body["pid"] == PID
    assert isinstance(body["meminfo"]["MemTotal"], int)
    assert isinstance(body["meminfo"]["MemAvailable"], int)
    assert all(isinstance(value, int) for value in body["vmstat"].values())
    for resource in ("memory", "cpu"):
        psi = body["pressure"][resource]
        assert "unavailable" in psi or "some" in psi
    assert "unavailable" in body["loadavg"] or isinstance(body["loadavg"]["load1"], float)
    assert body["cgroup"]["path"] == str(v2_dir)
    assert body["cgroup"]["stat"]["inactive_file"] == 41943040
    assert body["cgroup"]["pressure"]["some"]["avg10"] == 0.0


def test_parse_meminfo() -> None:
    parsed = procfs.parse_meminfo(MEMINFO)
    assert parsed["MemTotal"] == 1955532
    assert parsed["MemAvailable"] == 523896
    assert parsed["SwapFree"] == 3809772
    assert parsed["HugePages_Total"] == 0


def test_parse_vmstat_keeps_reclaim_swap_and_oom_counters() -> None:
    parsed = procfs.parse_vmstat(VMSTAT)
    assert parsed == {
        "pgfault": 9876543,
        "pgmajfault": 1234,
        "pswpin": 163021,
        "pswpout": 223248,
        "pgsteal_kswapd": 2839945,
        "pgsteal_direct": 10000,
        "pgscan_kswapd": 6114788,
        "pgscan_direct": 214825,
        "allocstall_normal": 1122,
        "allocstall_movable": 867,
        "workingset_refault_file": 55,
        "oom_kill": 2,
    }


def test_parse_loadavg() -> None:
    assert procfs.parse_loadavg("0.10 0.20 0.35 3/751 1941\n") == {
        "load1": 0.10,
        "load5": 0.20,
        "load15": 0.35,
        "runnable": 3,
        "tasks": 751,
        "last_pid": 1941,
    }


def test_proc_readers_with_fake_proc(tmp_path: Path) -> None:
    (tmp_path / "meminfo").write_text(MEMINFO)
    (tmp_path / "vmstat").write_text(VMSTAT)
    (tmp_path / "loadavg").write_text("5.33 1.48 0.75 2/756 1945\n")
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "memory").write_text(
        "some avg10=72.06 avg60=38.69 avg300=11.36 total=1\nfull avg10=60.77 avg60=33.35 avg300=9.79 total=2\n"
    )
    assert procfs.meminfo(tmp_path)["Cached"] == 486820
    assert procfs.vmstat(tmp_path)["pswpout"] == 223248
    assert procfs.loadavg(tmp_path)["load1"] == 5.33
    assert procfs.pressure("memory", tmp_path)["full"]["avg10"] == 60.77
    assert "not present" in procfs.pressure("cpu", tmp_path)["unavailable"]


@pytest.mark.parametrize("reader", [procfs.meminfo, procfs.vmstat, procfs.loadavg])
def test_proc_readers_missing_files(tmp_path: Path, reader: Any) -> None:
    result = reader(tmp_path)
    assert set(result) == {"unavailable"}
    assert "not present" in result["unavailable"]


def test_loadavg_malformed(tmp_path: Path) -> None:
    (tmp_path / "loadavg").write_text("garbage\n")
    assert "malformed" in procfs.loadavg(tmp_path)["unavailable"]


# --- bad input -------------------------------------------------------------------------

BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ("/leak", {"kb": 0}, "kb"),
    ("/leak", {"kb": -1}, "kb"),
    ("/leak", {"kb": True}, "kb"),
    ("/leak", {"kb": "big"}, "kb"),
    ("/leak", {"kb": 64 * 1024 + 1}, "kb"),
    ("/heavy", {"mb": -1}, "mb"),
    ("/heavy", {"mb": "x"}, "mb"),
    ("/heavy", {"mb": 65}, "mb"),
    ("/heavy", {"cpu_ms": -1}, "cpu_ms"),
    ("/heavy", {"cpu_ms": 60_001}, "cpu_ms"),
    ("/heavy", {"cpu_ms": True}, "cpu_ms"),
]


@pytest.mark.parametrize(("path", "payload", "field"), BAD_INPUT)
def test_bad_input_is_400_naming_the_field(client: Any, state: LabState, path: str, payload: Any, field: str) -> None:
    response = client.post(path, json=payload)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert state.leaks.count == 0


def test_non_json_body_is_400(client: Any) -> None:
    response = client.post("/leak", data="kb=5", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def test_cache_fills_and_rereads_a_file(client, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    assert client.get("/cache").status_code == 404
    filled = client.post("/cache", json={"mb": 3})
    assert filled.status_code == 200
    assert filled.get_json()["read_mb"] == 3.0
    assert (tmp_path / "labapp-page-cache.bin").stat().st_size == 3 * 1024 * 1024
    assert client.get("/cache").get_json()["read_mb"] == 3.0


def test_cache_rejects_a_bad_size(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/cache", json={"mb": -1})
    assert response.status_code == 400
    assert response.get_json()["field"] == "mb"
