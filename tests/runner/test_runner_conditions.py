"""Step conditions: which ``until`` holds for which live status and response."""

from __future__ import annotations

from typing import Any

import pytest

from harness.backends.base import LiveStatus
from harness.runner.conditions import ConditionState, json_path
from harness.scenario.model import Condition

RUNNING = LiveStatus(kills=0, memory_mb=30.0, allocated_mb=None, exited=False)
KILLED = LiveStatus(kills=1, memory_mb=30.0, allocated_mb=464.0, exited=False)
EXITED = LiveStatus(kills=1, memory_mb=None, allocated_mb=None, exited=True)


def _state(**condition: Any) -> ConditionState:
    return ConditionState(Condition.model_validate(condition))


def test_json_path_reads_nested_keys() -> None:
    body = {"cgroup": {"oom_kills": {"value": 1}}, "pid": 7}
    assert json_path(body, "cgroup.oom_kills.value") == 1
    assert json_path(body, "pid") == 7
    missing = json_path(body, "nope")
    assert missing is not None  # absent is a sentinel, never a value a body could hold
    assert json_path(body, "cgroup.missing") is missing
    assert json_path(body, "pid.deeper") is missing
    assert json_path(None, "pid") is missing


def test_kills_and_exit() -> None:
    assert not _state(kills=1).holds(RUNNING)
    assert _state(kills=1).holds(KILLED)
    assert not _state(exited=True).holds(KILLED)
    assert _state(exited=True, kills=1).holds(EXITED)
    assert _state(exited=False).holds(RUNNING)


def test_status_and_equals() -> None:
    assert _state(status=200).holds(RUNNING, 200)
    assert not _state(status=200).holds(RUNNING, None)
    assert _state(json_field="allocating", equals=False).holds(RUNNING, 200, {"allocating": False})
    assert not _state(json_field="allocating", equals=False).holds(RUNNING, 200, {})


@pytest.mark.parametrize(("changed", "values", "expected"), [
    (True, [7, 7, 9], [False, False, True]),
    (False, [7, 7, 9], [True, True, False]),
])
def test_changed_compares_with_the_first_value_seen(changed: bool, values: list[int], expected: list[bool]) -> None:
    state = _state(json_field="pid", changed=changed)
    assert [state.holds(RUNNING, 200, {"pid": v}) for v in values] == expected


def test_changed_ignores_responses_without_the_field() -> None:
    state = _state(json_field="pid", changed=True)
    assert not state.holds(RUNNING, None, None)  # the worker was just killed: no body
    assert not state.holds(RUNNING, 200, {"pid": 7})
    assert state.holds(RUNNING, 200, {"pid": 9})
