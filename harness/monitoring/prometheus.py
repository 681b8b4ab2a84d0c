"""Prometheus and Alertmanager as the harness configures and reads them: their
configuration files, the history Prometheus starts with, and a read-only client of
Prometheus's HTTP API (httpx; its errors become :class:`PrometheusUnreadable` here, at the
boundary)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import yaml

from harness.monitoring.profiles import Profile, duration_text

#: Scrape jobs, named as kube-prometheus names them (rules select on ``job``).
KUBELET_JOB = "kubelet"
KUBE_STATE_JOB = "kube-state-metrics"
NODE_JOB = "node-exporter"


@dataclass(frozen=True)
class Ports:
    """The 127.0.0.1 ports of one run's stack (the containers share the host's network)."""

    prometheus: int
    alertmanager: int
    node_exporter: int
    exporter: int
    receiver: int


def scrape_targets(ports: Ports) -> dict[str, tuple[str, str]]:
    """Each job's ``(instance, metrics path)``."""
    exporter = f"127.0.0.1:{ports.exporter}"
    return {KUBELET_JOB: (exporter, "/metrics/cadvisor"),
            KUBE_STATE_JOB: (exporter, "/metrics/kube-state-metrics"),
            NODE_JOB: (f"127.0.0.1:{ports.node_exporter}", "/metrics")}


def prometheus_config(profile: Profile, ports: Ports, rule_files: Iterable[str]) -> str:
    """prometheus.yml for one run: the profile's intervals, the three jobs, the rules, and
    the run's Alertmanager."""
    interval = duration_text(profile.scrape_interval_s)
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": duration_text(profile.evaluation_interval_s)},
        "rule_files": list(rule_files),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]}]},
        "scrape_configs": [
            {"job_name": job, "metrics_path": path, "static_configs": [{"targets": [instance]}]}
            for job, (instance, path) in scrape_targets(ports).items()
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def alertmanager_config(profile: Profile, receiver_url: str) -> str:
    """alertmanager.yml for one run: every alert its own group (``group_by: ['...']``),
    the profile's waits, and the harness's webhook receiver (resolved alerts too)."""
    config = {
        "route": {"receiver": "oom-harness", "group_by": ["..."],
                  "group_wait": duration_text(profile.group_wait_s),
                  "group_interval": duration_text(profile.group_interval_s),
                  "repeat_interval": duration_text(profile.repeat_interval_s)},
        "receivers": [{"name": "oom-harness",
                       "webhook_configs": [{"url": receiver_url, "send_resolved": True}]}],
    }
    return yaml.safe_dump(config, sort_keys=False)


# ---------------------------------------------------------------------------------------
# History: a Prometheus started for one run has no past, so ``x - x offset 10m`` is empty
# and ``increase(x[30m])`` starts from the first scrape. It is given the series' values at
# the run's start for the longest look-back its rules have, as if it had watched the
# container that long.

_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?P<labels>\{.*\})?\s+(?P<value>\S+)(?:\s+\S+)?$")


def parse_exposition(text: str) -> list[tuple[str, str, str]]:
    """``(name, labels, value)`` of each sample line of a text exposition page (labels
    with their braces, '' when none)."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match:
            samples.append((match["name"], match["labels"] or "", match["value"]))
    return samples


def with_target_labels(labels: str, job: str, instance: str) -> str:
    """A sample's labels with the ``job`` and ``instance`` Prometheus adds at a scrape."""
    added = f'instance="{instance}",job="{job}"'
    inner = labels[1:-1].strip().rstrip(",") if labels else ""
    return "{" + (f"{inner},{added}" if inner else added) + "}"


def history_text(pages: Mapping[str, tuple[str, str]], metrics: Iterable[str], start: float, end: float,
                 step: float) -> str:
    """An OpenMetrics file holding, from ``start`` to ``end`` every ``step`` seconds, the
    samples of ``metrics`` on each job's page (``job -> (instance, page text)``), for
    ``promtool tsdb create-blocks-from openmetrics``."""
    wanted = set(metrics)
    series = [(f"{name}{with_target_labels(labels, job, instance)}", value)
              for job, (instance, text) in pages.items()
              for name, labels, value in parse_exposition(text) if name in wanted]
    lines: list[str] = []
    if series and end > start:
        count = int((end - start) // step) + 1
        times = [start + i * step for i in range(count)]
        for key, value in series:
            lines += [f"{key} {value} {t:.3f}" for t in times]
    return "\n".join([*lines, "# EOF"]) + "\n"


# ---------------------------------------------------------------------------------------
# Reading Prometheus


class PrometheusUnreadable(Exception):
    """Prometheus's API did not answer, or answered something that is not its format."""


@dataclass(frozen=True)
class Target:
    """One scrape target as Prometheus last saw it."""

    job: str
    health: str
    last_error: str


class PrometheusApi:
    """Read-only calls of Prometheus's HTTP API (``/api/v1``) at ``base_url``."""

    def __init__(self, base_url: str, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._client.close()

    def ready(self) -> bool:
        try:
            return self._client.get(f"{self.base_url}/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            answer = self._client.get(f"{self.base_url}{path}", params=params)
            data = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusUnreadable(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict) or data.get("status") != "success":
            error = data.get("error") if isinstance(data, dict) else data
            raise PrometheusUnreadable(f"GET {path}: HTTP {answer.status_code}: {error}")
        return data.get("data")

    def targets(self) -> list[Target]:
        data = self._get("/api/v1/targets", {"state": "active"})
        return [Target(str(t.get("labels", {}).get("job", "")), str(t.get("health", "")), str(t.get("lastError", "")))
                for t in (data or {}).get("activeTargets", [])]

    def alerting_rules(self) -> list[str]:
        """The names of the alerting rules Prometheus loaded."""
        data = self._get("/api/v1/rules", {"type": "alert"})
        return [str(rule.get("name")) for group in (data or {}).get("groups", []) for rule in group.get("rules", [])]

    def query_range(
        self, query: str, start: float, end: float, step: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """``(labels, [(t, value)])`` of each series ``query`` gives from ``start`` to ``end``."""
        data = self._get("/api/v1/query_range", {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                 "step": f"{max(step, 0.001):.3f}"})
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise PrometheusUnreadable(f"query_range {query!r}: not a matrix")
        return [({str(k): str(v) for k, v in (s.get("metric") or {}).items()},
                 [(float(t), float(v)) for t, v in s.get("values", [])]) for s in data.get("result", [])]
