"""A first-class fake :class:`~harness.backends.azure.api.AzureApi`, fed with recorded JSON.

It answers from recordings in the shapes ``az`` prints, so the whole backend (deploy,
drive, wait for ingestion, map to evidence) runs offline. An answer may be a list of
successive recordings to play ingestion delay: each call takes the next one and the last
one repeats. Every call is recorded in :attr:`FakeAzureApi.calls` for assertions.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backends.azure.errors import AzureError
from harness.backends.azure.exported import load_json
from harness.backends.azure.queries import CONSOLE_TABLE, SYSTEM_TABLE, MetricRequest

Recording = Any


class Playback:
    """Successive answers to the same call; the last one repeats."""

    def __init__(self, answers: Sequence[Recording] | Recording, successive: bool = False) -> None:
        self.answers = list(answers) if successive else [answers]
        self.calls = 0

    def next(self) -> Recording:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)


@dataclass
class FakeAzureApi:
    """Recorded Azure answers.

    Attributes:
        environment_json: ``az containerapp env show`` output.
        app_json: ``az containerapp show`` output returned by create_app (its name is
            replaced by the requested one); None makes create_app fail.
        system_logs / console_logs: playback of ``az monitor log-analytics query`` rows.
        metrics: per metric name, playback of ``az monitor metrics list`` output.
        replicas: playback of ``az containerapp replica list`` output.
    """

    environment_json: dict[str, Any]
    app_json: dict[str, Any] | None
    system_logs: Playback = field(default_factory=lambda: Playback([]))
    console_logs: Playback = field(default_factory=lambda: Playback([]))
    metrics: dict[str, Playback] = field(default_factory=dict)
    replicas: Playback = field(default_factory=lambda: Playback([]))
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_folder(cls, folder: Path) -> FakeAzureApi:
        """Recordings from a folder: ``environment.json``, ``app.json``, ``system_logs.json``,
        ``console_logs.json``, ``working_set.json``, ``restart_count.json``, ``replicas.json``
        (each optional but the first two)."""
        def optional(name: str, default: Any) -> Any:
            path = folder / name
            return load_json(path) if path.exists() else default

        metrics = {}
        for metric, name in (("WorkingSetBytes", "working_set.json"), ("RestartCount", "restart_count.json")):
            if (folder / name).exists():
                metrics[metric] = Playback(load_json(folder / name))
        return cls(
            environment_json=load_json(folder / "environment.json"),
            app_json=load_json(folder / "app.json"),
            system_logs=Playback(optional("system_logs.json", [])),
            console_logs=Playback(optional("console_logs.json", [])),
            metrics=metrics,
            replicas=Playback(optional("replicas.json", [])),
        )

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def called(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of every call of one method, in order."""
        return [args for call, args in self.calls if call == name]

    def environment(self, resource_group: str, name: str) -> dict[str, Any]:
        self._record("environment", resource_group, name)
        return copy.deepcopy(self.environment_json)

    def create_app(self, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self._record("create_app", resource_group, name, copy.deepcopy(body))
        if self.app_json is None:
            raise AzureError(f"creating container app {name}: (fake) InvalidParameterValueInContainerTemplate")
        app = copy.deepcopy(self.app_json)
        app["name"] = name
        app["tags"] = body.get("tags", {})
        self.apps[name] = app
        return copy.deepcopy(app)

    def delete_app(self, resource_group: str, name: str) -> None:
        self._record("delete_app", resource_group, name)
        self.apps.pop(name, None)

    def app_fqdn(self, resource_group: str, name: str) -> str:
        self._record("app_fqdn", resource_group, name)
        app = self.apps.get(name)
        if app is None:
            raise AzureError(f"reading container app {name}: (fake) ResourceNotFound")
        return str(app["properties"]["configuration"]["ingress"]["fqdn"])

    def list_replicas(self, resource_group: str, name: str) -> list[dict[str, Any]]:
        self._record("list_replicas", resource_group, name)
        return list(self.replicas.next())

    def query_logs(self, workspace_id: str, query: str, start: float, end: float) -> list[dict[str, Any]]:
        self._record("query_logs", workspace_id, query, start, end)
        table = query.lstrip().split("\n", 1)[0].strip()
        if table == SYSTEM_TABLE:
            return list(self.system_logs.next())
        if table == CONSOLE_TABLE:
            return list(self.console_logs.next())
        raise AzureError(f"querying Log Analytics: (fake) no recording for table {table}")

    def query_metrics(self, resource_id: str, request: MetricRequest, start: float, end: float) -> dict[str, Any]:
        self._record("query_metrics", resource_id, request, start, end)
        playback = self.metrics.get(request.metric)
        if playback is None:
            raise AzureError(f"reading metric {request.metric}: (fake) no recording")
        return dict(playback.next())
