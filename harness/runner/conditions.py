"""Step conditions: does ``until`` hold now?"""

from __future__ import annotations

from typing import Any

from harness.backends.base import LiveStatus
from harness.scenario.model import Condition

_MISSING = object()


def json_path(data: Any, path: str) -> Any:
    """The value at a dot-separated path (``cgroup.oom_kills``), or a sentinel when absent."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


class ConditionState:
    """Evaluates one step's condition over successive observations.

    ``changed`` compares against the first value this step saw, so it needs state.
    """

    def __init__(self, condition: Condition) -> None:
        self.condition = condition
        self.first: Any = _MISSING

    def holds(self, live: LiveStatus, status: int | None = None, body: Any = None) -> bool:
        c = self.condition
        if c.kills is not None and live.kills < c.kills:
            return False
        if c.exited is not None and live.exited != c.exited:
            return False
        if c.status is not None and status != c.status:
            return False
        if c.json_field is not None:
            return self._field_holds(json_path(body, c.json_field))
        return True

    def _field_holds(self, value: Any) -> bool:
        if value is _MISSING:
            return False
        if self.condition.changed is not None:
            if self.first is _MISSING:
                self.first = value
                return not self.condition.changed
            return bool((value != self.first) == self.condition.changed)
        return bool(value == self.condition.equals)
