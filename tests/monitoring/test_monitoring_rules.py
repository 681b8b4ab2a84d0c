"""Rules files: the shipped set, what an expression reads and how far back, promtool's
complaints (recorded from the monitoring image) put back in the user's terms."""

from __future__ import annotations

import pytest
from monitoring_inputs import RECORDED, promtool_output

from harness.errors import ScenarioError
from harness.monitoring.rules import (
    RulesText,
    container_names,
    longest_lookback_s,
    metrics_read,
    parse_duration,
    parse_rules,
    promtool_error,
    shipped_rules,
)


def test_the_shipped_rules_name_their_origin_and_what_they_read() -> None:
    rules = {rule.name: rule for rule in shipped_rules()}
    assert list(rules) == ["HostOomKillDetected", "KubernetesContainerOomKiller", "MultipleContainersOOMKilled",
                           "KubePodCrashLooping", "ContainerOomEvent", "NodeOomKill"]
    assert rules["HostOomKillDetected"].origin == "awesome-prometheus-alerts: Host OOM kill detected"
    assert rules["MultipleContainersOOMKilled"].origin.startswith("OpenShift cluster-monitoring-operator")
    assert rules["KubePodCrashLooping"].origin == "kubernetes-mixin: KubePodCrashLooping"
    assert rules["KubePodCrashLooping"].for_s == 900.0
    assert rules["KubernetesContainerOomKiller"].reads == (
        "kube_pod_container_status_restarts_total", "kube_pod_container_status_last_terminated_reason")
    assert rules["ContainerOomEvent"].reads == ("container_oom_events_total",)


def test_the_shipped_rules_pass_promtool() -> None:
    assert "SUCCESS: 6 rules found" in promtool_output("03-shipped_rules")


@pytest.mark.parametrize(("expr", "reads"), [
    ('increase(node_vmstat_oom_kill[30m]) > 0', ("node_vmstat_oom_kill",)),
    ('sum by (pod) (rate(foo_total{a="b", c=~"x.*"}[5m])) / on(pod) group_left(node) bar > 1e3',
     ("foo_total", "bar")),
    ('max_over_time(x{reason="offset 5m"}[5m:1m]) >= 1 unless y offset 1h', ("x", "y")),
    ('{__name__="up", job="node"} == 0', ("up",)),
    ('absent(up{job="kubelet"})', ("up",)),
    ('sum BY (pod) (foo) > 0 AND bar OFFSET 5m', ("foo", "bar")),
    ('vector(1)', ()),
])
def test_metrics_read(expr: str, reads: tuple[str, ...]) -> None:
    assert metrics_read(expr) == reads


def test_lookback_takes_the_longest_window_subquery_or_offset() -> None:
    assert longest_lookback_s("a - a offset 10m") == 600.0
    assert longest_lookback_s("max_over_time(a[5m:1m]) and increase(b[1h30m])") == 5400.0
    assert longest_lookback_s('a{x="[90d]"}') == 0.0
    assert longest_lookback_s("rate(x[30m] offset 30m)") == 3600.0  # the window starts an hour back
    assert longest_lookback_s("x - x OFFSET 1h") == 3600.0


def test_durations() -> None:
    assert parse_duration("15m") == 900.0
    assert parse_duration("1h30m") == 5400.0
    assert parse_duration("500ms") == 0.5
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("15 minutes")


def test_recording_rules_are_no_rows_and_a_users_rule_is_named_after_the_file() -> None:
    text = """
groups:
  - name: mine
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: WorkerKilled
        expr: increase(container_oom_events_total[1m]) > 0
        for: 30s
"""
    (rule,) = parse_rules(text, "/home/me/alerts/mine.yml")
    assert parse_rules("groups: [{name: g, rules: [{alert: A, expr: up, for: 0}]}]", "f.yml")[0].for_s == 0.0
    assert (rule.name, rule.for_s, rule.origin, rule.group) == ("WorkerKilled", 30.0, "your rules: mine.yml", "mine")


@pytest.mark.parametrize(("text", "message"), [
    ("groups: [\n", "mine.yml: line 2: not a YAML rules file"),
    ("rules: []\n", "mine.yml: a rules file needs a top-level 'groups:' list"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n", "mine.yml: groups[0].rules[0] (A): 'expr' is missing"),
    ("groups:\n  - name: g\n    rules:\n      - {alert: A, expr: up, for: soon}\n",
     "mine.yml: groups[0].rules[0] (A): for: 'soon' is not a duration"),
])
def test_a_broken_rules_file_is_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_rules(text, "mine.yml")
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("name", "expected"), [
    ("00-bad", 'rules file refused by promtool: /home/me/bad.yml: 7:15: group "x", rule 2, "Bad": could not parse '
               'expression: 1:34: parse error: unexpected ")" in subquery or range, expected ":" or "]"'),
    ("01-unknown-field", "rules file refused by promtool: /home/me/unknown-field.yml: yaml: unmarshal errors:; "
                         "line 6: field fo not found in type rulefmt.RuleNode"),
    ("02-not-yaml", "rules file refused by promtool: /home/me/not-yaml.yml: yaml: line 1: did not find expected "
                    "node content"),
])
def test_promtool_complaints_name_the_users_file_and_line(name: str, expected: str) -> None:
    stem = name.split("-", 1)[1]
    files = [RulesText(f"/home/me/{stem}.yml", (RECORDED / "promtool" / f"{name}.yml").read_text())]
    assert container_names(files) == [f"00-{stem}.yml"]
    output = promtool_output(name).replace(f"/{name}.yml", f"/00-{stem}.yml")
    assert promtool_error(output, container_names(files), files) == expected
