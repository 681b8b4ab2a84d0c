"""Reading your Prometheus: its rules and timing from its own answers, and which alerts
are the run's."""

from __future__ import annotations

from monitoring_inputs import prometheus_answers

from harness.monitoring.external import belongs_to_run, profile_from_config, rules_from_api


def test_rules_from_the_api_answer() -> None:
    groups = prometheus_answers("pid1-oom-alerts")["/api/v1/rules"]["data"]["groups"]
    rules = {rule.name: rule for rule in rules_from_api(groups, "http://prom:9090")}
    assert rules["KubePodCrashLooping"].for_s == 900.0
    assert rules["NodeOomKill"].reads == ("node_vmstat_oom_kill",)
    assert rules["NodeOomKill"].origin == "your Prometheus (http://prom:9090): oom-harness-recommended"


def test_timing_from_your_configuration_with_the_defaults() -> None:
    profile = profile_from_config("global:\n  scrape_interval: 30s\n", "route:\n  group_wait: 10s\n")
    assert (profile.scrape_interval_s, profile.evaluation_interval_s, profile.group_wait_s) == (30.0, 60.0, 10.0)
    assert profile_from_config("", None).worst_case_s() == 60.0 + 120.0 + 30.0 + 2.0


def test_which_alerts_are_the_runs() -> None:
    names = ("oom-harness-1a2b3c", "d34db33f")
    assert belongs_to_run({"alertname": "A", "name": "oom-harness-1a2b3c"}, names)
    assert belongs_to_run({"alertname": "A", "id": "/docker/d34db33f0000"}, names)
    assert belongs_to_run({"alertname": "NodeOom", "instance": "node1:9100"}, names)  # host-wide
    assert not belongs_to_run({"alertname": "A", "pod": "someone-else"}, names)
    assert not belongs_to_run({"alertname": "A", "container_label_app": "other"}, names)
