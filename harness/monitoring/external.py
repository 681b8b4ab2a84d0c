"""Your existing Prometheus (and Alertmanager), read during and after a run.

With ``monitoring.prometheus_url`` the harness starts no stack of its own: it reads the
alerting rules your Prometheus has loaded, follows its alerts (or your Alertmanager's,
with ``alertmanager_url``) while the run goes on, and at the end reads when each rule was
pending and firing (``ALERTS``). Everything is read-only, through the HTTP APIs. An alert
is the run's when one of its label values names the run's container (the name the
harness gave it, which cAdvisor and Docker service discovery put in ``name`` /
``container_label_*`` labels), or when it has no container label at all (a host-wide
alert, like one on ``node_vmstat_oom_kill``).

A Prometheus that cannot be reached makes every rule unavailable with the reason, never a
gap. The timing profile is read from your configuration (``global.scrape_interval`` and
``evaluation_interval``; Alertmanager's ``route.group_wait``), with Prometheus's and
Alertmanager's defaults where they say nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
import yaml

from harness.collectors.base import CollectorThread
from harness.evidence import SourceStatus
from harness.evidence.alerts import AlertEvidence, AlertNotification, AlertRule, RuleState, parse_time
from harness.jsondata import to_data
from harness.monitoring.profiles import Profile, settle_wait_s
from harness.monitoring.prometheus import PrometheusApi, PrometheusUnreadable
from harness.monitoring.rules import metrics_read, parse_duration

#: Labels that tie a series (and so an alert) to one container.
CONTAINER_KEYS = ("container", "container_name", "pod", "name", "id", "container_id")
#: How often the alerts are read while the run goes on.
POLL_S = 1.0
#: The most metrics whose presence is checked at the end (one query each).
MAX_METRICS = 200


def belongs_to_run(labels: Mapping[str, str], names: Sequence[str]) -> bool:
    """An alert is the run's when a label value names the run's container, or when it has
    no container label (host-wide)."""
    if any(name and name in value for value in labels.values() for name in names):
        return True
    return not any(key in CONTAINER_KEYS or key.startswith("container_label_") for key in labels)


def profile_from_config(prometheus_yaml: str, alertmanager_yaml: str | None) -> Profile:
    """Your installation's timing, from its configuration (defaults where it is silent:
    scrape and evaluation 1m, group_wait 30s, group_interval 5m, repeat_interval 4h)."""
    prom = (yaml.safe_load(prometheus_yaml) or {}).get("global") or {}
    route = ((yaml.safe_load(alertmanager_yaml) or {}).get("route") or {}) if alertmanager_yaml else {}
    return Profile(
        name="yours",
        scrape_interval_s=parse_duration(str(prom.get("scrape_interval", "1m"))),
        evaluation_interval_s=parse_duration(str(prom.get("evaluation_interval", "1m"))),
        group_wait_s=parse_duration(str(route.get("group_wait", "30s"))),
        group_interval_s=parse_duration(str(route.get("group_interval", "5m"))),
        repeat_interval_s=parse_duration(str(route.get("repeat_interval", "4h"))),
    )


def rules_from_api(groups: Sequence[Mapping[str, Any]], url: str) -> list[AlertRule]:
    """The alerting rules of ``/api/v1/rules`` as records."""
    found = []
    for group in groups:
        for rule in group.get("rules", []):
            if rule.get("type", "alerting") != "alerting":
                continue
            expr = str(rule.get("query", ""))
            found.append(AlertRule(str(rule.get("name")), expr, float(rule.get("duration") or 0.0),
                                   f"your Prometheus ({url}): {group.get('name', '')}", str(group.get("file", "")),
                                   str(group.get("name", "")), metrics_read(expr)))
    return found


def _fingerprint(labels: Mapping[str, str]) -> str:
    """An alert's identity without Alertmanager: its label set."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class ExternalAlerting:
    """Follows your Prometheus (and Alertmanager) for one run; see the module's docstring."""

    def __init__(self, prometheus_url: str, alertmanager_url: str | None, container_names: Sequence[str],
                 wait_bound_s: float, time_scale: float = 1.0, log: Any = lambda line: None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.prometheus_url = prometheus_url.rstrip("/")
        self.alertmanager_url = alertmanager_url.rstrip("/") if alertmanager_url else None
        self.names = tuple(container_names)
        self.wait_bound_s = wait_bound_s
        self.time_scale = time_scale
        self.log = log
        self.api = PrometheusApi(self.prometheus_url, timeout_s=5.0, transport=transport)
        self._http = httpx.Client(timeout=5.0, transport=transport)
        self.rules: tuple[AlertRule, ...] = ()
        self.profile = Profile("yours", 60.0, 60.0, 30.0, 300.0, 14400.0)
        self.started_at = 0.0
        self.waited_s = 0.0
        self._failure: str | None = None
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], AlertNotification] = {}
        self._thread = CollectorThread.periodic("external-alerts", POLL_S, self._poll)

    def add_container_name(self, name: str) -> None:
        """Another value that names the run's container (its id, once it exists)."""
        self.names = (*self.names, name)

    def __enter__(self) -> ExternalAlerting:
        try:
            data = self.api._get("/api/v1/rules", {"type": "alert"})
            self.rules = tuple(rules_from_api((data or {}).get("groups", []), self.prometheus_url))
            config = self.api._get("/api/v1/status/config")
            self.profile = profile_from_config(str((config or {}).get("yaml", "")), self._alertmanager_config())
            self.started_at = time.time()
            self._thread.start()
        except (PrometheusUnreadable, httpx.HTTPError, ValueError, yaml.YAMLError, AttributeError, KeyError,
                TypeError) as exc:  # unreachable, or answers not in Prometheus's form
            self._failure = f"your Prometheus at {self.prometheus_url} could not be read: {exc}"
            self.log(f"monitoring: {self._failure}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._thread.stop()
        self.api.close()
        self._http.close()

    def _alertmanager_config(self) -> str | None:
        if self.alertmanager_url is None:
            return None
        answer = self._http.get(f"{self.alertmanager_url}/api/v2/status")
        answer.raise_for_status()
        return str(((answer.json() or {}).get("config") or {}).get("original") or "")

    def _poll(self) -> None:
        """Record each firing alert of the run the first time it is seen."""
        now = time.time()
        for note in self._firing_now(now):
            key = (note.fingerprint, str(note.starts_at))
            with self._lock:
                self._seen.setdefault(key, note)

    def _firing_now(self, now: float) -> list[AlertNotification]:
        if self.alertmanager_url is not None:
            answer = self._http.get(f"{self.alertmanager_url}/api/v2/alerts")
            answer.raise_for_status()
            alerts = answer.json()
            return [AlertNotification(now, str(a["labels"].get("alertname", "")), "firing",
                                      parse_time(a.get("startsAt")), None, str(a.get("fingerprint", "")),
                                      dict(a["labels"]))
                    for a in alerts if belongs_to_run(a.get("labels") or {}, self.names)
                    and (a.get("status") or {}).get("state") == "active"]
        data = self.api._get("/api/v1/alerts")
        return [AlertNotification(now, str(a["labels"].get("alertname", "")), "firing",
                                  parse_time(a.get("activeAt")), None, _fingerprint(a["labels"]), dict(a["labels"]))
                for a in (data or {}).get("alerts", []) if a.get("state") == "firing"
                and belongs_to_run(a.get("labels") or {}, self.names)]

    def settle(self, kill_times: Sequence[float]) -> None:
        """Wait for your rules' worst case under your timing after the last kill, bounded."""
        if self._failure is not None:
            return
        began = time.time()
        last = max(kill_times, default=began)
        wait = settle_wait_s(self.profile, self.rules, last - began, self.wait_bound_s,
                             (self.time_scale - 1.0) * 2.0)
        self.log(f"monitoring: waiting up to {wait:.0f} s for your rules to decide")
        until = began + wait
        while time.time() < until:
            time.sleep(0.25)
        self.waited_s = round(time.time() - began, 3)

    def evidence(self) -> AlertEvidence:
        """What your alerting did for this run."""
        self._thread.stop()
        status = self._status()
        states: tuple[RuleState, ...] = ()
        absent: dict[str, str] = {}
        if status.available:
            try:
                states = self._rule_states()
                absent = self._absent_metrics()
            except PrometheusUnreadable as exc:
                status = SourceStatus.unavailable(f"your Prometheus could not be read at the end: {exc}")
        with self._lock:
            seen = tuple(self._seen.values())
        return AlertEvidence(
            profile=to_data(self.profile), rules=self.rules, notifications=seen, states=states, status=status,
            series_absent=absent,
            started_at=self.started_at, ended_at=time.time(), waited_s=self.waited_s,
            wait_bound_s=self.wait_bound_s, source=f"your Prometheus at {self.prometheus_url}",
            stack={"prometheus_url": self.prometheus_url, "alertmanager_url": self.alertmanager_url,
                   "notifications": "first seen firing in " + ("Alertmanager" if self.alertmanager_url
                                                               else "Prometheus")})

    def _status(self) -> SourceStatus:
        if self._failure is not None:
            return SourceStatus.unavailable(self._failure)
        if self._thread.error is not None:
            return SourceStatus.unavailable(f"following your alerts failed: {self._thread.error}")
        return SourceStatus.ok()

    def _absent_metrics(self) -> dict[str, str]:
        """The metrics your rules read of which your Prometheus had no series during the
        run: a rule reading one could not have seen the kill (never a gap). At most
        ``MAX_METRICS`` are asked about; the rest count as present."""
        window = max(1, int(time.time() - self.started_at) + 1)
        metrics = list(dict.fromkeys(m for rule in self.rules for m in rule.reads))[:MAX_METRICS]
        absent = {}
        for metric in metrics:
            query = f"count(count_over_time({{__name__=\"{metric}\"}}[{window}s]))"
            data = self.api._get("/api/v1/query", {"query": query})
            if not (data or {}).get("result"):
                absent[metric] = f"your Prometheus had no series of it during the run ({self.prometheus_url})"
        return absent

    def _rule_states(self) -> tuple[RuleState, ...]:
        found: dict[str, dict[str, float]] = {}
        for labels, points in self.api.query_range("ALERTS", self.started_at, time.time(),
                                                   self.profile.evaluation_interval_s):
            if points and belongs_to_run(labels, self.names):
                first = found.setdefault(labels.get("alertname", ""), {})
                state = labels.get("alertstate", "")
                first[state] = min(first.get(state, points[0][0]), points[0][0])
        return tuple(RuleState(name, first.get("pending"), first.get("firing")) for name, first in found.items())
