"""cgroupfs: v1 and v2 readings from real-format files, reasons for what is missing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from harness import cgroupfs
from harness.cgroupfs import CgroupMemory, Reading

MB = 1024 * 1024
CONTAINER_ID = "3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"


# --- Reading and parsers ---------------------------------------------------------------


def test_reading_to_json_with_value() -> None:
    assert Reading(5).to_json() == {"value": 5}
    assert Reading(0).available


def test_reading_to_json_without_value_carries_reason() -> None:
    reading = Reading(None, "no limit")
    assert reading.to_json() == {"value": None, "unavailable": "no limit"}
    assert not reading.available


def test_parse_flat_keyed_reads_events_and_skips_odd_lines() -> None:
    text = "low 0\nhigh 3\nmax 12\noom 1\noom_kill 1\n\ngarbage line here\nbad x\n"
    assert cgroupfs.parse_flat_keyed(text) == {"low": 0, "high": 3, "max": 12, "oom": 1, "oom_kill": 1}


def test_parse_pressure_reads_some_and_full() -> None:
    text = (
        "some avg10=72.06 avg60=38.69 avg300=11.36 total=123456789\n"
        "full avg10=60.77 avg60=33.35 avg300=9.79 total=98765\n"
    )
    parsed = cgroupfs.parse_pressure(text)
    assert parsed["some"] == {"avg10": 72.06, "avg60": 38.69, "avg300": 11.36, "total": 123456789}
    assert parsed["full"]["avg300"] == 9.79
    assert isinstance(parsed["some"]["total"], int)


def test_parse_pressure_without_full_line() -> None:
    parsed = cgroupfs.parse_pressure("some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n")
    assert set(parsed) == {"some"}


# --- cgroup v2 -------------------------------------------------------------------------


def test_v2_full_readings(v2_dir: Path) -> None:
    memory = CgroupMemory(2, v2_dir)
    assert memory.usage() == Reading(160 * MB)
    assert memory.limit() == Reading(512 * MB)
    assert memory.peak() == Reading(500 * MB)
    assert memory.oom_kills() == Reading(1)
    assert memory.oom_events() == Reading(1)
    stat = memory.stat()
    assert stat is not None and stat["anon"] == 104857600 and stat["kernel_stack"] == 131072
    assert memory.working_set() == Reading(160 * MB - 41943040)
    assert memory.pressure() == {
        "some": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total": 0},
        "full": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total": 0},
    }


def test_v2_max_means_no_limit(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(2, make_cgroup(2, files={"memory.max": "max\n"}))
    assert memory.limit() == Reading(None, "no limit")


def test_v2_missing_peak_names_the_kernel(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(2, make_cgroup(2, drop=("memory.peak",)))
    reading = memory.peak()
    assert reading.value is None
    assert reading.reason == "memory.peak not present (kernel < 5.19)"


def test_v2_events_without_oom_kill_key(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(2, make_cgroup(2, files={"memory.events": "low 0\nhigh 0\nmax 2\noom 1\n"}))
    assert memory.oom_kills().value is None
    assert "kernel < 4.13" in (memory.oom_kills().reason or "")
    assert memory.oom_events() == Reading(1)


def test_v2_every_file_missing_gives_reasons_not_zeros(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    memory = CgroupMemory(2, empty)
    for reading in (memory.usage(), memory.limit(), memory.peak(), memory.oom_kills(), memory.oom_events()):
        assert reading.value is None
        assert reading.reason
    assert memory.usage().reason == "memory.current not present"
    assert memory.oom_kills().reason == "memory.events not present"
    assert memory.working_set().reason == "memory.current not present"
    assert memory.stat() is None
    assert memory.pressure() is None


def test_v2_malformed_and_unreadable_files(make_cgroup: Callable[..., Path]) -> None:
    root = make_cgroup(2, drop=("memory.peak",), files={"memory.current": "lots\n"})
    (root / "memory.peak").mkdir()  # reading a directory fails with EISDIR
    memory = CgroupMemory(2, root)
    assert memory.usage().value is None
    assert memory.usage().reason == "memory.current malformed: 'lots'"
    assert memory.peak().value is None
    assert (memory.peak().reason or "").startswith("memory.peak unreadable")


def test_working_set_never_below_zero(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(2, make_cgroup(2, files={"memory.current": "1000\n"}))
    assert memory.working_set() == Reading(0)


def test_working_set_without_inactive_file(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(2, make_cgroup(2, files={"memory.stat": "anon 5\n"}))
    assert memory.working_set() == Reading(None, "inactive_file not in memory.stat")


def test_v2_missing_pressure_reason_in_snapshot(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(2, make_cgroup(2, drop=("memory.pressure",)))
    assert memory.pressure() is None
    assert "memory.pressure not present" in memory.snapshot()["pressure"]["unavailable"]


def test_v2_snapshot_is_json_ready(v2_dir: Path) -> None:
    snapshot = CgroupMemory(2, v2_dir).snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["version"] == 2
    assert snapshot["path"] == str(v2_dir)
    assert snapshot["usage_bytes"] == {"value": 160 * MB}
    assert snapshot["limit_bytes"] == {"value": 512 * MB}
    assert snapshot["peak_bytes"] == {"value": 500 * MB}
    assert snapshot["oom_kills"] == {"value": 1}
    assert snapshot["oom_events"] == {"value": 1}
    assert snapshot["working_set_bytes"] == {"value": 160 * MB - 41943040}
    assert snapshot["stat"]["inactive_file"] == 41943040
    assert snapshot["pressure"]["some"]["avg10"] == 0.0


# --- cgroup v1 -------------------------------------------------------------------------


def test_v1_full_readings(v1_dir: Path) -> None:
    memory = CgroupMemory(1, v1_dir)
    assert memory.usage() == Reading(160 * MB)
    assert memory.limit() == Reading(512 * MB)
    assert memory.peak() == Reading(500 * MB)
    assert memory.oom_kills() == Reading(1)
    stat = memory.stat()
    assert stat is not None and stat["total_rss"] == 104857600
    # v1 uses total_inactive_file (hierarchical), like cAdvisor.
    assert memory.working_set() == Reading(160 * MB - 41943040)


def test_v1_has_no_oom_event_counter(v1_dir: Path) -> None:
    reading = CgroupMemory(1, v1_dir).oom_events()
    assert reading.value is None
    assert "memory.failcnt" in (reading.reason or "")


def test_v1_huge_limit_means_no_limit(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(1, make_cgroup(1, files={"memory.limit_in_bytes": "9223372036854771712\n"}))
    assert memory.limit() == Reading(None, "no limit")


def test_v1_old_kernel_oom_control_without_oom_kill(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(1, make_cgroup(1, files={"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n"}))
    reading = memory.oom_kills()
    assert reading.value is None
    assert reading.reason == "oom_kill not in memory.oom_control (kernel < 4.13)"


def test_v1_has_no_pressure(v1_dir: Path) -> None:
    memory = CgroupMemory(1, v1_dir)
    assert memory.pressure() is None
    assert memory.snapshot()["pressure"] == {"unavailable": "cgroup v1 has no memory.pressure"}


def test_v1_working_set_needs_total_inactive_file(make_cgroup: Callable[..., Path]) -> None:
    memory = CgroupMemory(1, make_cgroup(1, files={"memory.stat": "inactive_file 5\n"}))
    assert memory.working_set() == Reading(None, "total_inactive_file not in memory.stat")


def test_v1_snapshot(v1_dir: Path) -> None:
    snapshot = CgroupMemory(1, v1_dir).snapshot()
    assert snapshot["version"] == 1
    assert snapshot["oom_kills"] == {"value": 1}
    assert snapshot["oom_events"]["value"] is None
    assert snapshot["stat"]["total_inactive_file"] == 41943040
    assert json.loads(json.dumps(snapshot)) == snapshot


def test_v1_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    memory = CgroupMemory(1, empty)
    assert memory.usage().reason == "memory.usage_in_bytes not present"
    assert memory.limit().reason == "memory.limit_in_bytes not present"
    assert memory.peak().reason == "memory.max_usage_in_bytes not present"
    assert memory.oom_kills().reason == "memory.oom_control not present"
    assert memory.snapshot()["stat"] == {"unavailable": "memory.stat not present"}


# --- detect ----------------------------------------------------------------------------


def test_detect_v2(v2_dir: Path) -> None:
    assert cgroupfs.detect(v2_dir) == CgroupMemory(2, v2_dir)


def test_detect_v2_by_controllers_file_only(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    memory = cgroupfs.detect(tmp_path)
    assert memory == CgroupMemory(2, tmp_path)
    assert memory is not None and memory.usage().value is None


def test_detect_v1(tmp_path: Path, make_cgroup: Callable[..., Path]) -> None:
    root = tmp_path / "sysfs"
    root.mkdir()
    make_cgroup(1).rename(root / "memory")
    assert cgroupfs.detect(root) == CgroupMemory(1, root / "memory")


def test_detect_none(tmp_path: Path) -> None:
    assert cgroupfs.detect(tmp_path) is None
    assert cgroupfs.detect(tmp_path / "does-not-exist") is None


# --- for_pid ---------------------------------------------------------------------------


def _fake_proc(tmp_path: Path, pid: int, cgroup_text: str) -> Path:
    proc = tmp_path / "proc"
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cgroup").write_text(cgroup_text)
    return proc


V1_PROC_CGROUP = (
    f"12:pids:/docker/{CONTAINER_ID}\n"
    f"11:cpu,cpuacct:/docker/{CONTAINER_ID}\n"
    f"10:memory:/docker/{CONTAINER_ID}\n"
    f"9:blkio:/docker/{CONTAINER_ID}\n"
    f"1:name=systemd:/docker/{CONTAINER_ID}\n"
    f"0::/system.slice/containerd.service\n"
)


def test_for_pid_v1(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 4242, V1_PROC_CGROUP)
    root = tmp_path / "sys"
    target = root / "memory" / "docker" / CONTAINER_ID
    target.mkdir(parents=True)
    assert cgroupfs.for_pid(4242, proc=proc, root=root) == CgroupMemory(1, target)


def test_for_pid_v1_comma_list_controllers(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 7, f"4:cpu,memory:/docker/{CONTAINER_ID}\n0::/\n")
    root = tmp_path / "sys"
    target = root / "memory" / "docker" / CONTAINER_ID
    target.mkdir(parents=True)
    assert cgroupfs.for_pid(7, proc=proc, root=root) == CgroupMemory(1, target)


def test_for_pid_v2(tmp_path: Path) -> None:
    scope = f"system.slice/docker-{CONTAINER_ID}.scope"
    proc = _fake_proc(tmp_path, 99, f"0::/{scope}\n")
    root = tmp_path / "sys"
    (root / scope).mkdir(parents=True)
    assert cgroupfs.for_pid(99, proc=proc, root=root) == CgroupMemory(2, root / scope)


def test_for_pid_prefers_v1_memory_line(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 5, V1_PROC_CGROUP)
    root = tmp_path / "sys"
    v1_target = root / "memory" / "docker" / CONTAINER_ID
    v1_target.mkdir(parents=True)
    (root / "system.slice" / "containerd.service").mkdir(parents=True)
    memory = cgroupfs.for_pid(5, proc=proc, root=root)
    assert memory is not None and memory.version == 1


def test_for_pid_missing_directory(tmp_path: Path) -> None:
    proc = _fake_proc(tmp_path, 5, f"0::/system.slice/docker-{CONTAINER_ID}.scope\n")
    assert cgroupfs.for_pid(5, proc=proc, root=tmp_path / "sys") is None


def test_for_pid_missing_process(tmp_path: Path) -> None:
    assert cgroupfs.for_pid(12345, proc=tmp_path, root=tmp_path) is None


def test_for_pid_reads_real_proc_without_error() -> None:
    # The result depends on the machine; only the shape is checked.
    memory = cgroupfs.for_pid(os.getpid())
    assert memory is None or memory.version in (1, 2)
