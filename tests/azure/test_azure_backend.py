"""The Azure backend end to end, offline: recorded Azure answers, the app behind a MockTransport.

The runner drives the same steps as on Docker; the fake API plays the seed's recordings
with ingestion delay, and the matrix must be the seed's table.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure_testkit import FakeClock, at

from harness.backends.azure.backend import AzureBackend
from harness.backends.azure.errors import AzureError
from harness.backends.azure.exported import load_json
from harness.backends.azure.fake import FakeAzureApi, Playback
from harness.backends.azure.queries import RESTART_COUNT, WORKING_SET
from harness.backends.azure.settings import AzureSettings
from harness.backends.base import Backend
from harness.evidence import SourceStatus
from harness.runner import run_scenario
from harness.scenario import Scenario, parse_scenario

SETTINGS = AzureSettings(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg-oom-lab",
                         environment="cae-oom", image="acroomlab.azurecr.io/oom-app:v2", owner="4242")
SEED_TABLE = {
    "lifecycle_events": "gap", "restart_count": "gap", "metric_1m_avg": "partial", "console_logs": "visible",
    "cgroup": "unavailable", "kernel_log": "unavailable", "engine_oom_event": "unavailable",
    "metric_highres": "unavailable",
}


def gradual(**overrides: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "gradual",
        "target": {"image": "labapp", "process": {"kind": "gunicorn", "worker_class": "gthread", "threads": 4}},
        "limits": {"memory": "0.5Gi", "cpus": 0.25},
        "settle": 0,
        "steps": [
            "wait_healthy",
            {"http": {"name": "start", "method": "POST", "path": "/start",
                      "json": {"chunk_mb": 16, "pause_seconds": 0.5, "target_mb": 600}, "expect_status": 202}},
            {"poll": {"path": "/memory", "every": "10ms", "timeout": "10s", "until": {"kills": 1}}},
        ],
    }
    data.update(overrides)
    return parse_scenario(data, "gradual.yaml")


class LabStandIn:
    """Answers like the lab app: healthy, /start accepted, the worker PID changes after a few reads."""

    def __init__(self, healthy: bool = True, kill_after: int = 3) -> None:
        self.healthy = healthy
        self.kill_after = kill_after
        self.memory_reads = 0
        self.hosts: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hosts.add(request.url.host)
        if request.url.path == "/health":
            return httpx.Response(200 if self.healthy else 503, json={"status": "healthy", "pid": 7})
        if request.url.path == "/start":
            return httpx.Response(202, json={"action": "started"})
        if request.url.path == "/memory":
            with self._lock:
                self.memory_reads += 1
                killed = self.memory_reads > self.kill_after
            return httpx.Response(200, json={"allocated_mb": 0.0 if killed else 464.0, "pid": 12 if killed else 7,
                                             "rss_mb": 496.1, "cgroup": {"usage_bytes": {"value": 520_000_000},
                                                                         "oom_kills": {"value": int(killed)}}})
        return httpx.Response(404)


def seed_api(seed_dir: Path) -> FakeAzureApi:
    """The seed's recordings, arriving late: nothing at first, then part of the console lines."""
    api = FakeAzureApi.from_folder(seed_dir)
    system = load_json(seed_dir / "system_logs.json")
    console = load_json(seed_dir / "console_logs.json")
    api.system_logs = Playback([[], system], successive=True)
    api.console_logs = Playback([[], console[4:], console], successive=True)
    return api


def backend(api: FakeAzureApi, clock: FakeClock, stand_in: LabStandIn, **settings: Any) -> AzureBackend:
    return AzureBackend(api, SETTINGS.with_options(**settings), transport=httpx.MockTransport(stand_in),
                        clock=clock, sleep=clock.sleep, live_interval=0.0)


def test_it_is_a_backend() -> None:
    azure: Backend = AzureBackend(FakeAzureApi({}, None), SETTINGS)
    assert azure.name == "azure" and azure.describe()["platform"] == "Azure Container Apps"


def test_a_run_on_azure_gives_the_seed_table(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn()
    result = run_scenario(gradual(), backend(api, clock, stand_in), show_progress=False,
                          transport=httpx.MockTransport(stand_in))
    verdicts = {row.source: row.verdict for row in result.matrix}
    assert {source: verdicts[source] for source in SEED_TABLE} == SEED_TABLE
    assert (verdicts["client"], verdicts["health_probe"]) == ("gap", "gap")
    assert result.runs[0].figures.oom_kills == 9
    assert result.runs[0].evidence.backend == "azure"
    assert result.runs[0].evidence.facts["ingestion"] == {"stable": True, "looks": 4, "waited_s": 90.0}
    assert stand_in.hosts == {"ca-oom-test.gentlesea-3f2a1b7c.koreacentral.azurecontainerapps.io"}


def test_the_app_has_the_scenarios_limits_one_replica_and_tags(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn()
    run_scenario(gradual(), backend(api, clock, stand_in), show_progress=False, transport=httpx.MockTransport(stand_in))
    ((group, name, body),) = api.called("create_app")
    assert group == "rg-oom-lab" and name.startswith("oomh-gradual-r1-") and len(name) <= 32
    assert body["location"] == "Korea Central"
    props = body["properties"]
    assert props["environmentId"].endswith("/managedEnvironments/cae-oom")
    assert props["configuration"]["ingress"] == {"external": True, "targetPort": 8080, "transport": "auto"}
    (container,) = props["template"]["containers"]
    assert container["image"] == "acroomlab.azurecr.io/oom-app:v2"
    assert container["resources"] == {"cpu": 0.25, "memory": "0.5Gi"}
    assert container["command"][:3] == ["gunicorn", "--bind", "0.0.0.0:8080"]
    assert props["template"]["scale"] == {"minReplicas": 1, "maxReplicas": 1}
    assert body["tags"]["oom-harness"] == "run" and body["tags"]["oom-harness-owner"] == "4242"
    assert api.called("delete_app") == [("rg-oom-lab", name)]


def test_it_sends_the_seeds_queries_for_its_own_app(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn()
    run_scenario(gradual(), backend(api, clock, stand_in), show_progress=False, transport=httpx.MockTransport(stand_in))
    ((_, name, _),) = api.called("create_app")
    workspace, system, start, end = api.called("query_logs")[0]
    assert workspace == "5d2a1f0e-3c4b-4a69-8f7e-1b2c3d4e5f60"
    assert system.splitlines()[0] == "ContainerAppSystemLogs_CL"
    assert f"| where ContainerAppName_s == '{name}'" in system
    assert "| where Reason_s !in ('ContainerAppUpdate', 'RevisionUpdate')" in system
    assert "| project TimeGenerated, Reason_s, Type_s, Log_s" in system
    console = api.called("query_logs")[1][1]
    assert console.splitlines()[0] == "ContainerAppConsoleLogs_CL"
    assert "Log_s has_any ('SIGKILL', 'ERROR', 'OOM'" in console
    # The run's window, a minute either side (the fake clock stands still while steps run).
    assert (start, end) == (at("2026-04-10T14:05:40+00:00"), at("2026-04-10T14:07:40+00:00"))
    metrics = {call[1] for call in api.called("query_metrics")}
    assert metrics == {WORKING_SET, RESTART_COUNT} and WORKING_SET.interval == "PT1M"
    assert all(call[0].endswith(f"/containerApps/{name}") for call in api.called("query_metrics"))


def test_keep_leaves_the_app_in_place(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in, lines = seed_api(seed_dir), LabStandIn(), []
    azure = backend(api, clock, stand_in, keep=True)
    azure.log = lines.append
    run_scenario(gradual(), azure, show_progress=False, transport=httpx.MockTransport(stand_in))
    assert api.called("delete_app") == [] and len(api.apps) == 1
    assert any(line.startswith("azure: kept container app oomh-gradual-r1-") for line in lines)


def test_an_error_inside_the_run_still_removes_the_app(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn()
    with pytest.raises(RuntimeError, match="boom"):
        with backend(api, clock, stand_in).launch(gradual(), 1):
            raise RuntimeError("boom")
    assert len(api.called("delete_app")) == 1 and api.apps == {}


def test_a_failed_creation_is_one_error_and_cleans_up(seed_dir: Path, clock: FakeClock) -> None:
    api = seed_api(seed_dir)
    api.app_json = None
    with pytest.raises(AzureError, match="creating container app oomh-gradual-r1-"):
        with backend(api, clock, LabStandIn()).launch(gradual(), 1):
            pass
    assert len(api.called("delete_app")) == 1


def test_an_app_that_never_answers_times_out(seed_dir: Path, clock: FakeClock) -> None:
    api = seed_api(seed_dir)
    with pytest.raises(AzureError, match=r"did not answer on /health within 300s"):
        with backend(api, clock, LabStandIn(healthy=False)).launch(gradual(), 1):
            pass
    assert len(api.called("delete_app")) == 1


def test_ingestion_that_never_settles_is_bounded(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn()
    console = load_json(seed_dir / "console_logs.json")
    api.console_logs = Playback([console[i:] for i in range(8, -1, -1)], successive=True)  # one more row each look
    azure = backend(api, clock, stand_in, ingestion_timeout_s=100.0)
    with azure.launch(gradual(), 1) as session:
        evidence = session.finish()
    assert evidence.facts["ingestion"]["stable"] is False
    assert evidence.facts["ingestion"]["looks"] == 4 and clock.sleeps == [30.0] * 3
    assert len(evidence.of("console_logs")) == 4
    # What had arrived is kept, but a source still changing could not be judged: a kill
    # not yet ingested is no gap.
    reason = "ingestion not settled after 90 s: Azure Monitor's logs and metrics were still changing"
    for source in ("console_logs", "lifecycle_events", "metric_1m_avg"):
        assert evidence.status[source] == SourceStatus.unavailable(reason), source
    assert evidence.status["restart_count"].available  # the replica API is read directly


def test_a_query_that_fails_makes_its_source_unavailable_not_zero(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn()
    del api.metrics["WorkingSetBytes"]
    with backend(api, clock, stand_in).launch(gradual(), 1) as session:
        evidence = session.finish()
    assert not evidence.status["metric_1m_avg"].available
    assert "reading metric WorkingSetBytes" in (evidence.status["metric_1m_avg"].reason or "")
    assert evidence.one_minute == []


def test_an_environment_without_log_analytics_has_no_log_sources(seed_dir: Path, clock: FakeClock) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn()
    api.environment_json["properties"]["appLogsConfiguration"] = {"destination": "azure-monitor"}
    with backend(api, clock, stand_in).launch(gradual(), 1) as session:
        evidence = session.finish()
    assert api.called("query_logs") == []
    for source in ("lifecycle_events", "console_logs"):
        assert evidence.status[source].reason == ("environment cae-oom sends its logs to azure-monitor, "
                                                  "not to a Log Analytics workspace")


def test_live_figures_come_from_the_app_and_a_container_restart_counts_as_exited(
    seed_dir: Path, clock: FakeClock,
) -> None:
    api, stand_in = seed_api(seed_dir), LabStandIn(kill_after=1)
    replicas = load_json(seed_dir / "replicas.json")
    restarted = load_json(seed_dir / "replicas.json")
    restarted[0]["properties"]["containers"][0]["restartCount"] = 1
    api.replicas = Playback([replicas, replicas, restarted], successive=True)  # ready, live, live
    with backend(api, clock, stand_in).launch(gradual(), 1) as session:
        first = session.live()
        clock.sleep(20)
        second = session.live()
    assert (first.kills, first.allocated_mb, first.exited) == (0, 464.0, False)
    assert (second.kills, second.allocated_mb, second.exited) == (1, 0.0, True)
