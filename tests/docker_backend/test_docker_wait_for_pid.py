"""A container caught between two incarnations at session start (Pid 0 while its restart
policy restarts it) is waited for, bounded, instead of leaving the cgroup sources blind
for the whole run. Fed with docker inspect results recorded here (pid1_restart)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.backends.docker.backend import wait_for_pid

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "pid1_restart" / "inspects.jsonl"


def _inspections() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RECORDED.read_text().splitlines()]


def _replay(states: list[dict[str, Any]]) -> Any:
    queue = list(states)
    return lambda: queue.pop(0) if len(queue) > 1 else queue[0]


def test_a_restarting_container_is_waited_for_until_it_has_a_process() -> None:
    recorded = _inspections()
    restarting = next(i for i, s in enumerate(recorded) if s["State"]["Restarting"])
    assert recorded[restarting]["State"]["Pid"] == 0
    assert wait_for_pid(_replay(recorded[restarting:]), 5.0) == recorded[restarting + 1]["State"]["Pid"] > 0


def test_a_running_container_and_one_that_exited_for_good_are_not_waited_for() -> None:
    recorded = _inspections()
    assert wait_for_pid(_replay(recorded[:1]), 5.0) == recorded[0]["State"]["Pid"]
    exited = recorded[-1]
    assert exited["State"]["Status"] == "exited"
    assert wait_for_pid(_replay([exited]), 5.0) == 0


def test_the_wait_is_bounded() -> None:
    recorded = _inspections()
    restarting = next(s for s in recorded if s["State"]["Restarting"])
    assert wait_for_pid(_replay([restarting]), 0.2) == 0
