"""/blob/process: buffer vs stream, the concurrency cap, MemoryError, bad input."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.lab import blob
from harness.lab.app import LabState, create_app
from harness.lab.config import LabConfig

PID = os.getpid()
MB = 1024 * 1024


def _expected_sha256(size_mb: int) -> str:
    """The payload is MiB ``i`` filled with byte ``i % 251``; hash it independently."""
    digest = hashlib.sha256()
    for index in range(size_mb):
        digest.update(bytes([index % 251]) * MB)
    return digest.hexdigest()


@pytest.mark.parametrize("mode", ["buffer", "stream"])
def test_blob_modes_return_the_same_checksum(client: Any, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    response = client.post("/blob/process", json={"size_mb": 6, "mode": mode, "chunk_mb": 4})
    assert response.status_code == 200
    body = response.get_json()
    assert body["mode"] == mode
    assert body["size_mb"] == 6
    assert body["sha256"] == _expected_sha256(6)
    assert body["elapsed_ms"] >= 0
    assert body["pid"] == PID
    assert f"[OOM-TEST] blob mode={mode} size_mb=6 chunk_mb=4 pid={PID}" in capsys.readouterr().out


def test_blob_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def record(size_mb: int, hold_s_per_mb: float) -> str:
        calls.append(size_mb)
        assert hold_s_per_mb == 0.01  # 10 ms of processing per MiB
        return "x"

    monkeypatch.setattr(blob, "checksum_buffered", record)
    body = create_app(LabConfig()).test_client().post("/blob/process").get_json()
    assert (body["mode"], body["size_mb"], body["chunk_mb"]) == ("buffer", 100, 4)
    assert calls == [100]


def test_processing_holds_the_payload_for_a_time_per_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Buffering holds all of it for size x hold; streaming the same time, a chunk at a time."""
    slept: list[float] = []
    monkeypatch.setattr(blob.time, "sleep", slept.append)
    blob.checksum_buffered(6, 0.01)
    assert slept == [pytest.approx(0.06)]
    slept.clear()
    blob.checksum_streamed(6, 4, 0.01)
    assert slept == [pytest.approx(0.04), pytest.approx(0.02)]
    assert blob.checksum_buffered(6) == blob.checksum_streamed(6, 4)


def test_stream_holds_one_chunk_at_a_time() -> None:
    sizes = [len(chunk) for chunk in blob.chunks(10, 4)]
    assert sizes == [4 * MB, 4 * MB, 2 * MB]


def test_buffer_materialises_every_byte() -> None:
    payload = blob.materialise(3)
    assert len(payload) == 3 * MB
    assert payload[0] == 0 and payload[MB] == 1 and payload[-1] == 2


def test_memory_error_is_507_and_logged(
    client: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(size_mb: int) -> bytearray:
        raise MemoryError("cannot allocate bytes object")

    monkeypatch.setattr(blob, "materialise", refuse)
    response = client.post("/blob/process", json={"size_mb": 8, "mode": "buffer"})
    assert response.status_code == 507
    assert response.get_json() == {"error": "MemoryError", "mode": "buffer", "size_mb": 8, "pid": PID}
    assert f"[OOM-TEST] MemoryError mode=buffer size_mb=8 pid={PID}" in capsys.readouterr().out
    # The slot is released after the failure.
    assert client.post("/blob/process", json={"size_mb": 1, "mode": "stream"}).status_code == 200


def test_concurrency_cap_queues_then_rejects(monkeypatch: pytest.MonkeyPatch, waiter: Callable[..., bool]) -> None:
    app = create_app(LabConfig(max_mb=16, blob_concurrency=1, blob_wait_s=0.3))
    state: LabState = app.extensions["labapp"]
    entered = threading.Event()
    release = threading.Event()

    def slow_stream(size_mb: int, chunk_mb: int, hold_s_per_mb: float) -> str:
        entered.set()
        release.wait(10)
        return "done"

    monkeypatch.setattr(blob, "checksum_streamed", slow_stream)
    results: list[int] = []
    holder = threading.Thread(
        target=lambda: results.append(
            app.test_client().post("/blob/process", json={"size_mb": 1, "mode": "stream"}).status_code
        )
    )
    holder.start()
    try:
        assert entered.wait(5)
        assert state.blob_gate.snapshot() == {"slots": 1, "active": 1, "waiting": 0}
        started = time.monotonic()
        rejected = app.test_client().post("/blob/process", json={"size_mb": 1, "mode": "stream"})
        waited = time.monotonic() - started
        assert rejected.status_code == 503
        assert rejected.get_json()["slots"] == 1
        assert 0.25 <= waited < 3
    finally:
        release.set()
        holder.join(5)
    assert results == [200]
    assert waiter(lambda: state.blob_gate.snapshot()["active"] == 0)
    assert app.test_client().post("/blob/process", json={"size_mb": 1, "mode": "stream"}).status_code == 200


def test_waiting_request_gets_the_slot_when_it_frees(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(LabConfig(max_mb=16, blob_concurrency=1, blob_wait_s=5))
    state: LabState = app.extensions["labapp"]
    release = threading.Event()
    monkeypatch.setattr(blob, "checksum_streamed", lambda size_mb, chunk_mb, hold: release.wait(10) and "ok")
    statuses: list[int] = []

    def post() -> None:
        statuses.append(app.test_client().post("/blob/process", json={"size_mb": 1, "mode": "stream"}).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while state.blob_gate.snapshot() != {"slots": 1, "active": 1, "waiting": 1} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.blob_gate.snapshot() == {"slots": 1, "active": 1, "waiting": 1}
    release.set()
    for thread in threads:
        thread.join(5)
    assert statuses == [200, 200]


BAD_INPUT: list[tuple[Any, str]] = [
    ({"size_mb": 0}, "size_mb"),
    ({"size_mb": -3}, "size_mb"),
    ({"size_mb": 65}, "size_mb"),
    ({"size_mb": "10"}, "size_mb"),
    ({"size_mb": True}, "size_mb"),
    ({"size_mb": 1, "mode": "zip"}, "mode"),
    ({"size_mb": 1, "mode": 1}, "mode"),
    ({"size_mb": 1, "mode": None}, "mode"),
    ({"size_mb": 1, "chunk_mb": 0}, "chunk_mb"),
    ({"size_mb": 1, "chunk_mb": False}, "chunk_mb"),
    ({"size_mb": 1, "chunk_mb": 2.5}, "chunk_mb"),
    ({"size_mb": 1, "chunk_mb": 65}, "chunk_mb"),
    ("not json", "body"),
    ('"a string"', "body"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_INPUT)
def test_bad_input_is_400_naming_the_field(client: Any, state: LabState, payload: Any, field: str) -> None:
    if isinstance(payload, str):
        response = client.post("/blob/process", data=payload, content_type="application/json")
    else:
        response = client.post("/blob/process", json=payload)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert state.blob_gate.snapshot()["active"] == 0
