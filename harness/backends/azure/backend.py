"""The Azure backend: one scenario run as one Azure Container App.

``launch`` creates the app (the scenario's image, command, CPU and memory, one replica,
external ingress), waits until it answers, and yields a session the runner drives like a
local container. ``finish`` waits out ingestion delay, then reads the system and console
logs, the WorkingSetBytes and RestartCount metrics and the replicas, and maps them into
the same evidence model. The app is deleted when the run ends unless settings say keep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from harness.backends.azure import deploy, exported, queries
from harness.backends.azure.api import AzureApi
from harness.backends.azure.errors import AzureError
from harness.backends.azure.ingestion import wait_until_stable
from harness.backends.azure.live import LiveProbe
from harness.backends.azure.mapping import Collected, build_evidence, unsettled
from harness.backends.azure.settings import AzureSettings
from harness.backends.base import LiveStatus
from harness.evidence import RunEvidence
from harness.scenario import Scenario

T = TypeVar("T")
WINDOW_MARGIN_S = 60.0  # around the run, for clock skew between this machine and Azure
REPLICA_LOOK_S = 15.0  # how often live() may ask the replica API whether the container restarted


def _minute(t: float) -> float:
    return t - t % 60


class AzureBackend:
    """Runs scenarios on Azure Container Apps through an :class:`AzureApi`."""

    name = "azure"

    def __init__(
        self, api: AzureApi, settings: AzureSettings, *, log: Callable[[str], None] = lambda line: None,
        scheme: str = "https", transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
        live_interval: float = 1.0,
    ) -> None:
        """``scheme`` and ``transport`` reach the app's ingress (tests point them at a stand-in);
        ``clock`` and ``sleep`` pace the readiness and ingestion waits; ``live_interval`` is
        the least time between two reads of the app's /memory for live figures."""
        self.api = api
        self.settings = settings
        self.log = log
        self.scheme = scheme
        self.transport = transport
        self.clock = clock
        self.sleep = sleep
        self.live_interval = live_interval

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {"name": "azure", "version": "container-apps", "platform": "Azure Container Apps",
                "resource_group": s.resource_group, "environment": s.environment, "location": s.location or None}

    @contextmanager
    def launch(self, scenario: Scenario, run: int) -> Iterator[AzureSession]:
        s = self.settings
        env = deploy.EnvironmentInfo.from_json(self.api.environment(s.resource_group, s.environment),
                                               deploy.environment_id(s))
        name = deploy.app_name(s.name_prefix, scenario.name, run)
        body = deploy.app_body(scenario, s, env, deploy.tags(s, scenario, run, self.clock()))
        created_at = self.clock()
        self.log(f"azure: creating container app {name} in {s.resource_group} ({body['location']})")
        try:
            app = self.api.create_app(s.resource_group, name, body)
            fqdn = deploy.fqdn_of(app) or self.api.app_fqdn(s.resource_group, name)
            session = AzureSession(self, scenario, run, name, fqdn, env, created_at)
            try:
                session.wait_ready()
                yield session
            finally:
                session.close()
        except BaseException:
            self._remove(name, failing=True)
            raise
        self._remove(name, failing=False)

    def _remove(self, name: str, failing: bool) -> None:
        """Delete the run's app (or say where it was kept); while another error is on its
        way out, a failed delete is logged instead of hiding that error."""
        s = self.settings
        if s.keep:
            self.log(f"azure: kept container app {name} (remove it with: az containerapp delete "
                     f"-g {s.resource_group} -n {name} --yes)")
            return
        self.log(f"azure: deleting container app {name}")
        try:
            self.api.delete_app(s.resource_group, name)
        except AzureError as exc:
            if not failing:
                raise
            self.log(f"azure: could not delete {name}: {exc}")


class AzureSession:
    """A running Container App: its address, live figures from the app, and its evidence."""

    def __init__(
        self, backend: AzureBackend, scenario: Scenario, run: int, name: str, fqdn: str,
        env: deploy.EnvironmentInfo, created_at: float,
    ) -> None:
        self.backend = backend
        self.api = backend.api
        self.settings = backend.settings
        self.scenario = scenario
        self.run = run
        self.name = name
        self.env = env
        self.started_at = created_at
        self.resource_id = deploy.app_id(self.settings, name)
        self.base_url = f"{backend.scheme}://{fqdn}"
        self.probe_url = self.base_url  # the platform probes replicas itself; ours uses the FQDN
        self.probe = LiveProbe(self.base_url, transport=backend.transport, min_interval=backend.live_interval)
        self.replicas_before: list[exported.ReplicaState] | None = None
        self._exited = False
        self._replica_look: float | None = None
        self._lock = threading.Lock()

    def wait_ready(self) -> None:
        """Wait until the app answers on its health path, then note the replicas' restart counts."""
        s, target = self.settings, self.scenario.target
        deadline = self.backend.clock() + s.ready_timeout_s
        with httpx.Client(base_url=self.base_url, transport=self.backend.transport) as client:
            while True:
                try:
                    if client.get(target.health_path, timeout=5.0).status_code < 300:
                        break
                except httpx.HTTPError:
                    pass
                if self.backend.clock() >= deadline:
                    raise AzureError(f"container app {self.name} did not answer on {target.health_path} "
                                     f"within {s.ready_timeout_s:g}s")
                self.backend.sleep(2.0)
        self.replicas_before = self._try(lambda: exported.replicas(
            self.api.list_replicas(s.resource_group, self.name), "replica list"))[0]

    def live(self) -> LiveStatus:
        return self.probe.status(self._restarted())

    def _restarted(self) -> bool:
        """Whether the container itself restarted (the replica API), asked at most every 15 s."""
        with self._lock:
            now = self.backend.clock()
            if self._exited or (self._replica_look is not None and now - self._replica_look < REPLICA_LOOK_S):
                return self._exited
            self._replica_look = now
        after, _ = self._try(lambda: exported.replicas(
            self.api.list_replicas(self.settings.resource_group, self.name), "replica list"))
        if after is not None:
            before = {r.name: r.restart_count for r in self.replicas_before or []}
            self._exited = any(r.restart_count > before.get(r.name, 0) or (r.running_state or "Running") != "Running"
                               for r in after)
        return self._exited

    def close(self) -> None:
        self.probe.close()

    def _try(self, read: Callable[[], T]) -> tuple[T | None, str | None]:
        try:
            return read(), None
        except AzureError as exc:
            self.backend.log(f"azure: {exc}")
            return None, str(exc)

    def collect(self, start: float, end: float) -> Collected:
        """One look at everything Azure recorded about the app in [start, end]."""
        s, collected = self.settings, Collected(replicas_before=self.replicas_before)
        first, last = queries.iso(start), queries.iso(end)
        if self.env.workspace_id:
            workspace = self.env.workspace_id
            collected.system_rows, reason = self._try(lambda: exported.log_rows(self.api.query_logs(
                workspace, queries.system_logs_query(self.name, first, last), start, end), queries.SYSTEM_TABLE))
            self._note(collected, "system_rows", reason)
            collected.console_rows, reason = self._try(lambda: exported.log_rows(self.api.query_logs(
                workspace, queries.console_logs_query(self.name, first, last), start, end), queries.CONSOLE_TABLE))
            self._note(collected, "console_rows", reason)
        else:
            reason = (f"environment {s.environment} sends its logs to {self.env.log_destination or 'no destination'}, "
                      "not to a Log Analytics workspace")
            collected.reasons.update(system_rows=reason, console_rows=reason)
        for part, request in (("working_set", queries.WORKING_SET), ("restart_metric", queries.RESTART_COUNT)):
            series, reason = self._try(lambda request=request: exported.metric_series(  # type: ignore[misc]
                self.api.query_metrics(self.resource_id, request, start, end), request.metric, request.metric))
            setattr(collected, part, series)
            self._note(collected, part, reason)
        collected.replicas, reason = self._try(lambda: exported.replicas(
            self.api.list_replicas(s.resource_group, self.name), "replica list"))
        self._note(collected, "replicas", reason)
        return collected

    @staticmethod
    def _note(collected: Collected, part: str, reason: str | None) -> None:
        if reason:
            collected.reasons[part] = reason

    def finish(self) -> RunEvidence:
        """Wait until Azure's logs and metrics stop changing, then build the evidence."""
        s = self.settings
        ended = self.backend.clock()
        start, end = self.started_at - WINDOW_MARGIN_S, ended + WINDOW_MARGIN_S
        last_minute = _minute(ended)

        def ready(collected: Collected) -> bool:
            # Console rows arrived (the lab app always prints some: gunicorn's boot line, the
            # PID-1 and supervisor lines), and the memory metric reaches the run's last minute.
            # An image that prints none of them waits the whole ingestion timeout.
            logs_in = collected.console_rows is None or bool(collected.console_rows)
            metric_in = collected.working_set is None or any(
                t >= last_minute for t, _ in collected.working_set.values("average"))
            return logs_in and metric_in

        self.backend.log(f"azure: waiting for logs and metrics of {self.name} "
                         f"(up to {s.ingestion_timeout_s:g}s, a look every {s.ingestion_poll_s:g}s)")
        settled = wait_until_stable(lambda: self.collect(start, end), ready, timeout=s.ingestion_timeout_s,
                                    interval=s.ingestion_poll_s, clock=self.backend.clock,
                                    sleep=self.backend.sleep, log=self.backend.log)
        evidence = build_evidence(
            settled.collected, self.run, "azure", self.started_at, ended, self.scenario.limits.memory,
            facts={"container_app": self.name, "resource_id": self.resource_id, "fqdn": self.base_url,
                   "workspace_id": self.env.workspace_id, "ingestion": settled.fact(),
                   "restart_policy": f"{self.scenario.restart.policy} (not applied: Container Apps always restarts)"},
        )
        if not settled.stable:
            evidence.status = unsettled(evidence.status, settled.collected, settled.waited_s)
        return evidence
