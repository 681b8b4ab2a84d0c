"""/block: a request that holds its worker in one C call for a while, allocating nothing."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from harness.lab import block

PID = os.getpid()


def test_rounds_follow_the_measured_speed() -> None:
    assert block.rounds_for(2.0, 1e-6) == 2_000_000
    assert block.rounds_for(0.0, 1e-6) == 1
    assert block.rounds_for(10**6, 1e-9) == block.MAX_ROUNDS


def test_one_round_takes_a_positive_time() -> None:
    assert 0 < block.seconds_per_round(1000) < 0.01


def test_block_answers_after_about_the_seconds_asked(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    response = client.post("/block", json={"seconds": 0.05})
    assert response.status_code == 200
    body = response.get_json()
    assert body["action"] == "block_complete" and body["pid"] == PID and body["rounds"] >= 1
    assert 0.0 <= body["seconds"] < 5.0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[OOM-TEST] block")]
    assert re.fullmatch(rf"\[OOM-TEST\] block seconds=0\.05 rounds=\d+ pid={PID}", lines[0])
    assert re.fullmatch(rf"\[OOM-TEST\] block complete seconds=\d+\.\d pid={PID}", lines[1])


@pytest.mark.parametrize(("body", "message"), [
    ({"seconds": -1}, "seconds must be >= 0"),
    ({"seconds": 601}, "seconds must be <= 600"),
    ({"seconds": "long"}, "seconds must be a number"),
])
def test_block_rejects_bad_seconds(client: Any, body: dict[str, Any], message: str) -> None:
    response = client.post("/block", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": message, "field": "seconds"}
