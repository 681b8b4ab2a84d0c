"""OOM visibility endpoints, request logging and bad input, through Flask's test client."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import harness.lab.app as app_module
from harness.lab import alloc
from harness.lab.app import LabState, create_app
from harness.lab.config import LabConfig

PID = os.getpid()
REQ_START = re.compile(r"^\[REQ\] start id=(\S+) method=(\S+) path=(\S+) pid=(\d+)$")
REQ_END = re.compile(r"^\[REQ\] end id=(\S+) status=(\d{3}) ms=(\d+\.\d) pid=(\d+)$")
PROGRESS = re.compile(r"^\[OOM-TEST\] allocated_mb=(\d+) rss_mb=(\d+\.\d) pid=(\d+)$")


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


# --- /health, /memory ------------------------------------------------------------------


def test_health(client: Any) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "healthy", "pid": PID}


def test_memory_reports_state_and_cgroup(client: Any, v2_dir: Path) -> None:
    body = client.get("/memory").get_json()
    assert body["allocated_mb"] == 0
    assert body["allocated_blocks"] == 0
    assert body["allocating"] is False
    assert body["pid"] == PID
    assert body["rss_mb"] > 0
    assert body["timestamp_utc"].endswith("+00:00")
    assert body["cgroup"]["version"] == 2
    assert body["cgroup"]["path"] == str(v2_dir)
    assert body["cgroup"]["oom_kills"] == {"value": 1}


def test_memory_without_cgroup_says_why(tmp_path: Path) -> None:
    client = create_app(LabConfig(max_mb=8, cgroup_root=tmp_path / "nowhere")).test_client()
    cgroup = client.get("/memory").get_json()["cgroup"]
    assert set(cgroup) == {"unavailable"}
    assert "nowhere" in cgroup["unavailable"]


def test_module_level_app_is_a_flask_app() -> None:
    assert isinstance(app_module.app, Flask)


# --- /start ----------------------------------------------------------------------------


def test_start_allocates_in_background_and_logs_each_chunk(
    client: Any, state: LabState, waiter: Callable[..., bool], capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.post("/start", json={"chunk_mb": 1, "target_mb": 3, "pause_seconds": 0})
    assert response.status_code == 202
    assert response.get_json() == {
        "action": "started",
        "chunk_mb": 1,
        "pause_seconds": 0.0,
        "target_mb": 3,
        "pid": PID,
    }
    assert waiter(lambda: not state.allocator.running)
    lines = [line for line in _lines(capsys) if line.startswith("[OOM-TEST]")]
    progress = [PROGRESS.match(line) for line in lines[:3]]
    assert all(progress), lines
    assert [int(m.group(1)) for m in progress if m] == [1, 2, 3]
    assert all(int(m.group(3)) == PID for m in progress if m)
    assert lines[3] == f"[OOM-TEST] allocation complete allocated_mb=3 pid={PID}"
    memory = client.get("/memory").get_json()
    assert memory["allocated_mb"] == 3.0
    assert memory["allocated_blocks"] == 3
    assert memory["allocating"] is False


def test_start_trims_last_chunk_to_target(
    client: Any, state: LabState, waiter: Callable[..., bool], capsys: pytest.CaptureFixture[str]
) -> None:
    client.post("/start", json={"chunk_mb": 2, "target_mb": 3, "pause_seconds": 0})
    assert waiter(lambda: not state.allocator.running)
    out = capsys.readouterr().out
    assert f"[OOM-TEST] allocation complete allocated_mb=3 pid={PID}" in out
    assert state.allocations.total_bytes == 3 * alloc.MB


def test_start_while_allocating_is_409_and_reset_stops_it(
    client: Any, state: LabState, waiter: Callable[..., bool], capsys: pytest.CaptureFixture[str]
) -> None:
    assert client.post("/start", json={"chunk_mb": 1, "target_mb": 50, "pause_seconds": 30}).status_code == 202
    assert waiter(lambda: state.allocations.count == 1)
    assert client.get("/memory").get_json()["allocating"] is True
    second = client.post("/start", json={"chunk_mb": 1, "target_mb": 2})
    assert second.status_code == 409
    assert second.get_json()["pid"] == PID

    reset = client.post("/reset")
    assert reset.status_code == 200
    assert reset.get_json() == {"action": "reset", "freed_blocks": 1, "freed_leak_blocks": 0, "pid": PID}
    assert waiter(lambda: not state.allocator.running)
    out = capsys.readouterr().out
    assert f"[OOM-TEST] allocation stopped allocated_mb=1 pid={PID}" in out
    assert f"[OOM-TEST] reset freed_blocks=1 freed_leak_blocks=0 pid={PID}" in out
    assert client.get("/memory").get_json()["allocated_mb"] == 0
    # A new run may start once the old one has stopped.
    assert client.post("/start", json={"chunk_mb": 1, "target_mb": 1, "pause_seconds": 0}).status_code == 202


def test_start_defaults_when_body_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(LabConfig())  # the default max_mb admits the 600 MB default target
    plans: list[Any] = []

    def record(plan: Any) -> bool:
        plans.append(plan)
        return True

    monkeypatch.setattr(app.extensions["labapp"].allocator, "start", record)
    response = app.test_client().post("/start")
    assert response.status_code == 202
    body = response.get_json()
    assert (body["chunk_mb"], body["pause_seconds"], body["target_mb"]) == (16, 0.5, 600)
    assert len(plans) == 1


def test_allocator_memory_error_is_logged(
    client: Any,
    state: LabState,
    waiter: Callable[..., bool],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refuse(mb: int) -> bytearray:
        raise MemoryError

    monkeypatch.setattr(alloc, "allocate_mb", refuse)
    client.post("/start", json={"chunk_mb": 1, "target_mb": 2, "pause_seconds": 0})
    assert waiter(lambda: not state.allocator.running)
    assert f"[OOM-TEST] MemoryError allocated_mb=0 pid={PID}" in capsys.readouterr().out


# --- /spike, /reset --------------------------------------------------------------------


def test_spike_logs_before_allocating(client: Any, state: LabState, capsys: pytest.CaptureFixture[str]) -> None:
    response = client.post("/spike", json={"mb": 2})
    assert response.status_code == 200
    assert response.get_json() == {"action": "spike_complete", "allocated_mb": 2, "pid": PID}
    lines = [line for line in _lines(capsys) if line.startswith("[OOM-TEST]")]
    assert lines[0] == f"[OOM-TEST] spike mb=2 pid={PID}"
    assert re.fullmatch(rf"\[OOM-TEST\] spike complete mb=2 rss_mb=\d+\.\d pid={PID}", lines[1])
    assert state.allocations.total_bytes == 2 * alloc.MB


def test_spike_memory_error_is_507(
    client: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(mb: int) -> bytearray:
        raise MemoryError

    monkeypatch.setattr(alloc, "allocate_mb", refuse)
    response = client.post("/spike", json={"mb": 2})
    assert response.status_code == 507
    assert response.get_json()["error"] == "MemoryError"
    assert f"[OOM-TEST] MemoryError path=/spike pid={PID}" in capsys.readouterr().out


def test_reset_frees_spikes_and_leaks(client: Any) -> None:
    client.post("/spike", json={"mb": 1})
    client.post("/leak")
    body = client.post("/reset").get_json()
    assert body["freed_blocks"] == 1
    assert body["freed_leak_blocks"] == 1
    memory = client.get("/memory").get_json()
    assert memory["allocated_mb"] == 0 and memory["allocated_blocks"] == 0


# --- request logging -------------------------------------------------------------------


def test_request_lines_use_given_request_id(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    response = client.post("/spike", json={"mb": 1}, headers={"X-Request-Id": "run1-spike.7"})
    assert response.headers["X-Request-Id"] == "run1-spike.7"
    lines = _lines(capsys)
    start = REQ_START.match(lines[0])
    end = REQ_END.match(lines[-1])
    assert start and start.groups() == ("run1-spike.7", "POST", "/spike", str(PID))
    assert end and end.group(1) == "run1-spike.7" and end.group(2) == "200" and end.group(4) == str(PID)


def test_request_id_generated_when_absent_or_unsafe(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    generated = client.get("/health").headers["X-Request-Id"]
    unsafe = client.get("/health", headers={"X-Request-Id": "two words=x"}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{12}", generated)
    assert re.fullmatch(r"[0-9a-f]{12}", unsafe)
    lines = _lines(capsys)
    assert len(lines) == 4 and all(REQ_START.match(line) or REQ_END.match(line) for line in lines)


def test_errors_are_logged_and_json(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    missing = client.get("/no/such/path")
    assert missing.status_code == 404
    assert missing.get_json()["status"] == 404
    wrong_method = client.get("/spike")
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.headers["Allow"]
    ends = [REQ_END.match(line) for line in _lines(capsys) if line.startswith("[REQ] end")]
    assert [m.group(2) for m in ends if m] == ["404", "405"]


# --- bad input -------------------------------------------------------------------------

BAD_INPUT: list[tuple[str, str, Any, str]] = [
    ("/start", "json", {"chunk_mb": "abc"}, "chunk_mb"),
    ("/start", "json", {"chunk_mb": True}, "chunk_mb"),
    ("/start", "json", {"chunk_mb": -1}, "chunk_mb"),
    ("/start", "json", {"chunk_mb": 0}, "chunk_mb"),
    ("/start", "json", {"chunk_mb": 1.5}, "chunk_mb"),
    ("/start", "json", {"chunk_mb": 65}, "chunk_mb"),
    ("/start", "json", {"pause_seconds": -0.1}, "pause_seconds"),
    ("/start", "json", {"pause_seconds": "slow"}, "pause_seconds"),
    ("/start", "json", {"pause_seconds": False}, "pause_seconds"),
    ("/start", "json", {"target_mb": 0}, "target_mb"),
    ("/start", "json", {"target_mb": 1000}, "target_mb"),
    ("/start", "json", {"target_mb": None}, "target_mb"),
    ("/start", "raw", "chunk_mb=16", "body"),
    ("/start", "raw", "[1, 2]", "body"),
    ("/spike", "json", {"mb": 0}, "mb"),
    ("/spike", "json", {"mb": -5}, "mb"),
    ("/spike", "json", {"mb": "500"}, "mb"),
    ("/spike", "json", {"mb": True}, "mb"),
    ("/spike", "json", {"mb": 65}, "mb"),
    ("/spike", "raw", '{"mb": NaN}', "mb"),
    ("/spike", "raw", "{not json", "body"),
]


@pytest.mark.parametrize(("path", "kind", "payload", "field"), BAD_INPUT)
def test_bad_input_is_400_naming_the_field(
    client: Any, state: LabState, path: str, kind: str, payload: Any, field: str
) -> None:
    if kind == "json":
        response = client.post(path, json=payload)
    else:
        response = client.post(path, data=payload, content_type="application/json")
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field
    assert field in body["error"] or field == "body"
    assert state.allocations.count == 0
    assert not state.allocator.running


def test_default_above_max_mb_is_400(client: Any) -> None:
    # The fixture caps sizes at 64 MB, below the 500 MB spike default: the cap wins.
    response = client.post("/spike")
    assert response.status_code == 400
    assert response.get_json()["field"] == "mb"
