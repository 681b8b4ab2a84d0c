"""Stretching a scenario's bounded waits for a slower machine.

Under software emulation every step of a run takes longer (the app's start-up, each
allocation, each request), so a bound written for real hardware would fail for the wrong
reason. The waits are scaled by a speed factor measured on the machine (see
:mod:`harness.vm.speed`), and the factor is reported with the result. Pacing is not
scaled: a poll's ``every``, a ``sleep`` and the app's own allocation pace stay as written,
so the experiment itself does not change.
"""

from __future__ import annotations

from harness.scenario.model import Scenario

#: The step fields that bound a wait (seconds).
TIMEOUT_FIELDS = ("timeout", "total_timeout")


def scale_timeouts(scenario: Scenario, factor: float) -> Scenario:
    """A copy of ``scenario`` whose time-outs are ``factor`` times longer (factor >= 1)."""
    if factor <= 1.0:
        return scenario
    steps = [
        step.model_copy(update={f: getattr(step, f) * factor for f in TIMEOUT_FIELDS if hasattr(step, f)})
        for step in scenario.steps
    ]
    return scenario.model_copy(update={"steps": steps, "run_timeout": scenario.run_timeout * factor})
