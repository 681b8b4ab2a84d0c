"""The README's example: keep the finding as a test in your own pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pytest_plugin import OomHarness, assert_alert_fires


@pytest.mark.engine
def test_console_logs_see_the_worker_oom_kill(oom_harness: OomHarness) -> None:
    result = oom_harness.run("spike", repeat=1)
    # Only the console logs tell: the gunicorn master survives the kill of its worker,
    # so the container never exits and its lifecycle events stay silent.
    assert result.source("console_logs").verdict == "visible"
    assert result.source("lifecycle_events").verdict == "gap"


# README: "Would your alerting have paged you?" -- your own rule against a real worker kill.
MY_RULES = """\
groups:
  - name: my-team
    rules:
      - alert: WorkerOomKilled
        expr: increase(container_oom_events_total{namespace="oom-harness"}[5m]) > 0
"""


@pytest.mark.engine
def test_my_rule_pages_within_30_s_of_a_worker_kill(oom_harness: OomHarness, tmp_path: Path) -> None:
    rules = tmp_path / "my-rules.yml"
    rules.write_text(MY_RULES)
    result = oom_harness.run("gradual", repeat=1, rules=[rules])
    latencies = assert_alert_fires(result, "WorkerOomKilled", within_s=30)
    assert len(latencies) == result.runs[0].figures.oom_kills
    # The rule most dashboards ship with would not have paged: the container never exited.
    assert result.source("alert:KubernetesContainerOomKiller").verdict == "gap"


# README: "What limit does my workload need?" -- the answer kept as a test.
@pytest.mark.engine
def test_the_steady_upload_workload_fits_in_768mi(oom_harness: OomHarness) -> None:
    from harness.scenario.units import parse_size

    oom_harness.survives("blob-buffering-steady", "768Mi", repeat=1)
    limit, probes = oom_harness.right_size("blob-buffering-steady", step="128Mi", low="128Mi", repeat=1)
    assert limit <= parse_size("768Mi")
    assert any(not p.passed for p in probes)  # and a step below it, the workload is killed
