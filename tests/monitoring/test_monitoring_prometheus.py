"""Prometheus's and Alertmanager's configuration, the history Prometheus starts with, and
reading Prometheus's API (recorded answers through httpx's mock transport)."""

from __future__ import annotations

import httpx
import pytest
import yaml
from monitoring_inputs import prometheus_answers

from harness.evidence.alerts import AlertRule
from harness.monitoring.profiles import PROFILES, duration_text, settle_wait_s
from harness.monitoring.prometheus import (
    Ports,
    PrometheusApi,
    PrometheusUnreadable,
    alertmanager_config,
    history_text,
    parse_exposition,
    prometheus_config,
    with_target_labels,
)

PORTS = Ports(prometheus=9090, alertmanager=9093, node_exporter=9100, exporter=8000, receiver=8001)


def test_prometheus_config_has_the_profiles_intervals_and_kube_prometheus_job_names() -> None:
    config = yaml.safe_load(prometheus_config(PROFILES["production"], PORTS, ["/etc/oom-harness/rules/*"]))
    assert config["global"] == {"scrape_interval": "15s", "scrape_timeout": "15s", "evaluation_interval": "15s"}
    jobs = {job["job_name"]: (job["metrics_path"], job["static_configs"][0]["targets"]) for job in
            config["scrape_configs"]}
    assert jobs == {"kubelet": ("/metrics/cadvisor", ["127.0.0.1:8000"]),
                    "kube-state-metrics": ("/metrics/kube-state-metrics", ["127.0.0.1:8000"]),
                    "node-exporter": ("/metrics", ["127.0.0.1:9100"])}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_alertmanager_config_sends_every_alert_to_the_receiver() -> None:
    config = yaml.safe_load(alertmanager_config(PROFILES["fast"], "http://127.0.0.1:8001/alerts"))
    assert config["route"]["group_by"] == ["..."]
    assert (config["route"]["group_wait"], config["route"]["repeat_interval"]) == ("1s", "4h")
    assert config["receivers"][0]["webhook_configs"] == [{"url": "http://127.0.0.1:8001/alerts", "send_resolved": True}]


def test_durations_as_prometheus_writes_them() -> None:
    assert [duration_text(s) for s in (1.0, 15.0, 300.0, 14400.0, 0.5)] == ["1s", "15s", "5m", "4h", "500ms"]


def test_history_repeats_the_wanted_series_with_the_scrape_labels() -> None:
    pages = {"kube-state-metrics": ("127.0.0.1:8000", "# HELP x\nkube_pod_container_status_restarts_total"
                                    '{container="app",pod="p"} 0\nkube_pod_container_status_waiting{pod="p"} 0\n'),
             "node-exporter": ("127.0.0.1:9100", "node_vmstat_oom_kill 12\nnode_vmstat_pgfault 99\n")}
    text = history_text(pages, ["kube_pod_container_status_restarts_total", "node_vmstat_oom_kill"],
                        start=1000.0, end=1002.0, step=1.0)
    assert text.splitlines() == [
        'kube_pod_container_status_restarts_total{container="app",pod="p",instance="127.0.0.1:8000",'
        'job="kube-state-metrics"} 0 1000.000',
        'kube_pod_container_status_restarts_total{container="app",pod="p",instance="127.0.0.1:8000",'
        'job="kube-state-metrics"} 0 1001.000',
        'kube_pod_container_status_restarts_total{container="app",pod="p",instance="127.0.0.1:8000",'
        'job="kube-state-metrics"} 0 1002.000',
        'node_vmstat_oom_kill{instance="127.0.0.1:9100",job="node-exporter"} 12 1000.000',
        'node_vmstat_oom_kill{instance="127.0.0.1:9100",job="node-exporter"} 12 1001.000',
        'node_vmstat_oom_kill{instance="127.0.0.1:9100",job="node-exporter"} 12 1002.000',
        "# EOF"]
    assert history_text(pages, [], 0.0, 10.0, 1.0) == "# EOF\n"


def test_exposition_lines() -> None:
    assert parse_exposition('a 1\n# TYPE b gauge\nb{x="1 2"} 2.5 1700000000\n\n') == [
        ("a", "", "1"), ("b", '{x="1 2"}', "2.5")]
    assert with_target_labels("", "j", "i") == '{instance="i",job="j"}'


def _recorded_transport(scenario: str) -> httpx.MockTransport:
    answers = prometheus_answers(scenario)

    def handle(request: httpx.Request) -> httpx.Response:
        query = request.url.params.get("query")
        key = request.url.path + (f" {query}" if query else "")
        if key not in answers:
            return httpx.Response(404, json={"status": "error", "error": f"not recorded: {key}"})
        return httpx.Response(200, json=answers[key])

    return httpx.MockTransport(handle)


def test_reading_the_recorded_answers() -> None:
    api = PrometheusApi("http://127.0.0.1:9090", transport=_recorded_transport("pid1-oom-alerts"))
    assert "KubernetesContainerOomKiller" in api.alerting_rules()
    alerts = api.query_range("ALERTS", 0, 1, 1)
    states = {(labels["alertname"], labels["alertstate"]) for labels, _ in alerts}
    assert ("KubePodCrashLooping", "pending") in states
    assert ("ContainerOomEvent", "firing") in states
    ((labels, points),) = api.query_range('{__name__="node_vmstat_oom_kill"}', 0, 1, 1)
    assert labels["job"] == "node-exporter"
    assert points[-1][1] - points[0][1] >= 4  # the four PID-1 kills, host-wide
    with pytest.raises(PrometheusUnreadable, match="not recorded"):
        api.query_range("up", 0, 1, 1)


def test_an_answer_that_is_not_prometheus_is_unreadable() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>proxy error</html>")

    api = PrometheusApi("http://127.0.0.1:9090", transport=httpx.MockTransport(handle))
    with pytest.raises(PrometheusUnreadable, match="/api/v1/targets"):
        api.targets()


def _rule(name: str, for_s: float = 0.0) -> AlertRule:
    return AlertRule(name, "up", for_s, "test")


@pytest.mark.parametrize(("rules", "since_kill", "bound", "expected"), [
    ([_rule("a")], 0.0, 300.0, 6.0),  # fast: scrape 1 + 2 evaluations + group_wait 1 + 2 s slack
    ([_rule("a"), _rule("b", 900.0)], 0.0, 300.0, 6.0),  # for: 15m does not fit: waited for as pending
    ([_rule("a"), _rule("b", 60.0)], 0.0, 300.0, 66.0),
    ([_rule("a")], -4.0, 300.0, 2.0),  # the kill was 4 s ago
    ([_rule("a")], -10.0, 300.0, 0.0),
])
def test_settle_wait(rules: list[AlertRule], since_kill: float, bound: float, expected: float) -> None:
    assert settle_wait_s(PROFILES["fast"], rules, since_kill, bound) == pytest.approx(expected)


def test_settle_wait_production_profile() -> None:
    assert settle_wait_s(PROFILES["production"], [_rule("a")], 0.0, 300.0) == pytest.approx(77.0)
