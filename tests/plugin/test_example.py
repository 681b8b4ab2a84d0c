"""The README's example: keep the finding as a test in your own pipeline."""

from __future__ import annotations

import pytest

from harness.pytest_plugin import OomHarness


@pytest.mark.engine
def test_console_logs_see_the_worker_oom_kill(oom_harness: OomHarness) -> None:
    result = oom_harness.run("spike", repeat=1)
    # Only the console logs tell: the gunicorn master survives the kill of its worker,
    # so the container never exits and its lifecycle events stay silent.
    assert result.source("console_logs").verdict == "visible"
    assert result.source("lifecycle_events").verdict == "gap"
