"""Your existing Prometheus and Alertmanager, read during a run (read-only): here a real
Prometheus 2.42 and Alertmanager 0.25 started by the test stand for them."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
import yaml

from harness.backends.docker.backend import DockerBackend, prepare_images
from harness.backends.docker.container import free_port
from harness.backends.docker.monitoring import HostContainer, build_monitoring_image
from harness.config import HarnessConfig
from harness.monitoring.prometheus import PrometheusApi
from harness.runner import run_scenario
from harness.scenario import Scenario, load_scenario
from harness.scenario.catalog import resolve_scenario
from harness.scenario.monitoring import Monitoring

pytestmark = pytest.mark.engine

YOUR_RULES = """\
groups:
  - name: node
    rules:
      - alert: YourNodeOomKill
        expr: increase(node_vmstat_oom_kill[5m]) > 0
      - alert: YourPodRestarts
        expr: increase(kube_pod_container_status_restarts_total[5m]) > 0
"""


@pytest.fixture
def your_prometheus(docker_client: docker.DockerClient, harness_config: HarnessConfig) -> Iterator[tuple[str, str]]:
    """Prometheus (scraping a node_exporter every second), Alertmanager, on 127.0.0.1."""
    build_monitoring_image(docker_client, harness_config, log=lambda line: None)
    prom, am, node = free_port(), free_port(), free_port()
    labels = {harness_config.label: "test", f"{harness_config.label}.owner": harness_config.owner,
              f"{harness_config.label}.user": harness_config.user}
    prometheus_yml = yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["/etc/yours/rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am}"]}]}]},
        "scrape_configs": [{"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{node}"]}]}]})
    alertmanager_yml = yaml.safe_dump({"route": {"receiver": "none", "group_wait": "1s"},
                                       "receivers": [{"name": "none"}]})
    containers = [
        HostContainer(docker_client, harness_config, f"yours-node-{node}",
                      ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node}",
                       "--collector.disable-defaults", "--collector.vmstat"], {}, labels),
        HostContainer(docker_client, harness_config, f"yours-am-{am}",
                      ["prometheus-alertmanager", "--config.file=/etc/yours/am.yml",
                       f"--web.listen-address=127.0.0.1:{am}", "--cluster.listen-address=",
                       "--storage.path=/tmp/am"], {"/etc/yours/am.yml": alertmanager_yml}, labels),
        HostContainer(docker_client, harness_config, f"yours-prom-{prom}",
                      ["prometheus", "--config.file=/etc/yours/prometheus.yml",
                       f"--web.listen-address=127.0.0.1:{prom}", "--storage.tsdb.path=/tmp/prom"],
                      {"/etc/yours/prometheus.yml": prometheus_yml, "/etc/yours/rules.yml": YOUR_RULES}, labels),
    ]
    try:
        for container in containers:
            container.start()
        api = PrometheusApi(f"http://127.0.0.1:{prom}")
        import time

        deadline = time.monotonic() + 30
        while not (api.ready() and api.targets() and all(t.health == "up" for t in api.targets())):
            assert time.monotonic() < deadline, "your Prometheus did not come up"
            time.sleep(0.2)
        time.sleep(2)  # a few samples before the kill, as a Prometheus that has run for a while has
        api.close()
        yield f"http://127.0.0.1:{prom}", f"http://127.0.0.1:{am}"
    finally:
        for container in containers:
            container.remove()


def _gradual_reading(url: str | None, am: str | None) -> Scenario:
    scenario = load_scenario(resolve_scenario("gradual"), repeat=1)
    return scenario.with_monitoring(Monitoring.model_validate(
        {"prometheus_url": url, "alertmanager_url": am, "wait": "30s"}))


def test_your_prometheus_is_read_for_the_runs_alerts(
    no_leaks: None, docker_client: docker.DockerClient, harness_config: HarnessConfig,
    your_prometheus: tuple[str, str],
) -> None:
    url, am = your_prometheus
    scenario = _gradual_reading(url, am)
    prepare_images(docker_client, harness_config, scenario, log=lambda line: None)
    result = run_scenario(scenario, DockerBackend(docker_client, harness_config), show_progress=False)
    node = result.source("alert:YourNodeOomKill")
    assert node.verdict == "visible", node.note
    assert node.azure_analogue == f"your Prometheus ({url}): node"
    # Your Prometheus does not scrape the harness's kube-state-metrics: it had no series of
    # the metric, so the rule could not have looked.
    restarts = result.source("alert:YourPodRestarts")
    assert restarts.verdict == "unavailable"
    assert restarts.note.startswith("reads kube_pod_container_status_restarts_total: your Prometheus had no series")
    alerts = result.runs[0].evidence.alerts
    assert alerts is not None and alerts.source == f"your Prometheus at {url}"
    assert alerts.profile["scrape_interval_s"] == 1.0 and alerts.profile["group_wait_s"] == 1.0
    monitoring = {"label": f"{harness_config.label}.monitoring"}
    assert len(docker_client.containers.list(filters=monitoring, ignore_removed=True)) == 0


def test_an_unreachable_prometheus_is_unavailable_never_a_gap(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, no_leaks: None,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    scenario = _gradual_reading(url, None)
    result = run_scenario(scenario, DockerBackend(docker_client, harness_config), show_progress=False)
    row = result.source("alert:*")
    assert row.verdict == "unavailable"
    assert row.note.startswith(f"your Prometheus at {url} could not be read: ")
    assert result.source("cgroup").verdict == "visible"  # the run itself went on
