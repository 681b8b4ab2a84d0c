"""The run's monitoring stack on Docker: Debian's Prometheus, Alertmanager and
node_exporter in containers, the harness's exporter and webhook receiver beside them.

The containers share the host's network (``network_mode: host``) and listen on 127.0.0.1
only: the exporter and the receiver live in the harness process, which Prometheus and
Alertmanager must reach, and a bridge network would need the harness to listen on the
bridge's address. Like every other container they carry the run's owner labels and the
reaper's session label, and leaving :class:`MonitoringStack`'s block removes them, also
on errors, time-outs and signals.

A stack that cannot be brought up or read does not stop the run: its rules are judged
unavailable with the reason (:attr:`AlertEvidence.status`), never a gap.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import docker
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer

from harness.backends.docker.container import free_port, remove_container
from harness.backends.docker.engine_errors import ENGINE_ERRORS
from harness.backends.docker.image import Log, build_small_image
from harness.backends.docker.reaper import ensure_reaper
from harness.config import HarnessConfig
from harness.errors import EngineError, ScenarioError, first_line
from harness.evidence import SourceStatus
from harness.evidence.alerts import AlertEvidence, AlertRule, RuleState, SeriesPoints
from harness.jsondata import to_data
from harness.monitoring import kube_metrics
from harness.monitoring.exporter import MetricsExporter
from harness.monitoring.kube_metrics import KubeView
from harness.monitoring.profiles import Profile, settle_wait_s
from harness.monitoring.prometheus import (
    NODE_JOB,
    Ports,
    PrometheusApi,
    PrometheusUnreadable,
    alertmanager_config,
    history_text,
    prometheus_config,
    scrape_targets,
)
from harness.monitoring.receiver import WebhookReceiver
from harness.monitoring.rules import RULES_DIR, RulesText, container_names, longest_lookback_s, promtool_error

# Debian's packages, with only their binaries kept: the web UI's JavaScript dependencies
# would add 220 MB to an image the guest loads at every boot.
DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS packages
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
    prometheus prometheus-alertmanager prometheus-node-exporter
FROM ${BASE_IMAGE}
COPY --from=packages /usr/bin/prometheus /usr/bin/promtool /usr/bin/prometheus-alertmanager \\
    /usr/bin/prometheus-node-exporter /usr/bin/
COPY --from=packages /usr/share/prometheus /usr/share/prometheus
"""

CONFIG_DIR = "/etc/oom-harness"
HISTORY_FILE = f"{CONFIG_DIR}/history.om"
#: How long the stack may take to come up (Prometheus ready, rules loaded, targets scraped).
READY_TIMEOUT_S = 30.0
#: The longest history Prometheus is given: rules reading further back see an hour.
MAX_HISTORY_S = 3600.0
#: Rule look-backs shorter than this still get this much history.
MIN_HISTORY_S = 60.0


def build_monitoring_image(client: docker.DockerClient, config: HarnessConfig, log: Log = print,
                           force: bool = False) -> str:
    """Build (or reuse) the Prometheus/Alertmanager/node_exporter image; return its tag."""
    return build_small_image(client, config, config.monitoring_image, "monitoring",
                             "Debian's prometheus, prometheus-alertmanager and prometheus-node-exporter", DOCKERFILE,
                             log=log, force=force)


def check_rules(client: docker.DockerClient, config: HarnessConfig, files: Sequence[RulesText]) -> None:
    """``promtool check rules`` on every file, in a throw-away container of the monitoring
    image; a refusal is a :class:`ScenarioError` naming the user's file and line."""
    names = container_names(list(files))
    container: Container | None = None
    try:
        container = client.containers.create(
            config.monitoring_image, ["promtool", "check", "rules", *(f"{RULES_DIR}/{n}" for n in names)],
            labels={config.label: "promtool", f"{config.label}.owner": config.owner,
                    f"{config.label}.user": config.user}, network_mode="none")
        container.put_archive("/", _tar({f"{RULES_DIR}/{n}": f.text for n, f in zip(names, files, strict=True)}))
        container.start()
        code = int(container.wait(timeout=120).get("StatusCode", 1))
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    except ENGINE_ERRORS as exc:
        raise EngineError(f"could not run promtool from {config.monitoring_image}: {first_line(exc)}") from exc
    finally:
        if container is not None:
            try:
                remove_container(container, "the promtool container")
            except EngineError:
                pass  # the next start removes what is left
    if code != 0:
        raise ScenarioError(promtool_error(output, names, list(files)))


def _tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class HostContainer:
    """One of the stack's containers: on the host's network, with files copied in,
    removed when the block ends (started through testcontainers for the reaper's label)."""

    def __init__(self, client: docker.DockerClient, config: HarnessConfig, name: str, command: list[str],
                 files: dict[str, str], labels: dict[str, str]) -> None:
        self.client = client
        self.config = config
        self.name = name
        self.command = command
        self.files = files
        self.labels = labels
        self.container: Container | None = None

    def start(self) -> HostContainer:
        ensure_reaper(self.client, self.config)  # else testcontainers would pull its own from a registry
        managed = DockerContainer(self.config.monitoring_image, name=self.name)
        managed.with_command(self.command)
        managed.with_kwargs(network_mode="host", labels=self.labels)
        for path, text in self.files.items():
            managed.with_copy_into_container(text.encode(), path)
        try:
            try:
                managed.start()
            finally:
                self.container = getattr(managed, "_container", None)
                managed.get_docker_client().client.close()
        except ENGINE_ERRORS as exc:
            self.remove()
            raise EngineError(f"could not start {self.name}: {first_line(exc)}") from exc
        except BaseException:
            self.remove()
            raise
        return self

    def exited(self) -> str | None:
        """None while running; else why not: its exit code and the end of its log, or
        the engine's error when it cannot say."""
        assert self.container is not None
        try:
            state = self.client.api.inspect_container(str(self.container.id))["State"]
            if state.get("Status") not in ("exited", "dead"):
                return None
            tail = self.container.logs().decode("utf-8", "replace").strip()[-300:]
        except ENGINE_ERRORS as exc:
            return f"could not be inspected: {first_line(exc)}"
        return f"exited with code {state.get('ExitCode')}: {tail}"

    def remove(self) -> None:
        """Remove the container (force); safe to call twice."""
        container, self.container = self.container, None
        if container is not None:
            remove_container(container, self.name)


class MonitoringStack:
    """Prometheus, Alertmanager, node_exporter, the exporter and the receiver for one run.

    ``view`` gives the container as the metrics producers see it (called at each scrape);
    ``rules`` are the rules Prometheus evaluates, from ``files``. Enter it before the
    container starts: a container whose PID 1 is killed at start-up must be watched from
    its first moment, and the history Prometheus starts with must be the fresh pod's."""

    def __init__(self, client: docker.DockerClient, config: HarnessConfig, profile: Profile,
                 rules: Sequence[AlertRule], files: Sequence[RulesText], view: Callable[[], KubeView],
                 labels: dict[str, str], name: str, wait_bound_s: float, time_scale: float = 1.0,
                 log: Log = lambda line: None) -> None:
        self.client = client
        self.config = config
        self.profile = profile
        self.rules = tuple(rules)
        self.files = list(files)
        self.labels = labels
        self.name = name
        self.wait_bound_s = wait_bound_s
        self.time_scale = time_scale
        self.log = log
        self.exporter = MetricsExporter(view)
        self.receiver = WebhookReceiver()
        self.containers: list[HostContainer] = []
        self.api: PrometheusApi | None = None
        self.ports: Ports | None = None
        self.started_at = 0.0
        self.history_s = 0.0
        self.waited_s = 0.0
        self._failure: str | None = None
        self._series_absent: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> MonitoringStack:
        try:
            self.exporter.start()
            self.receiver.start()
            self._start_containers()
            self._wait_ready()
        except (EngineError, PrometheusUnreadable, TimeoutError) as exc:
            self._failure = f"the monitoring stack did not come up: {exc}"
            self.log(f"monitoring: {self._failure}")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove the containers and stop the servers (idempotent)."""
        errors = []
        for container in reversed(self.containers):
            try:
                container.remove()
            except EngineError as exc:
                errors.append(str(exc))
        self.containers = []
        if self.api is not None:
            self.api.close()
            self.api = None
        self.exporter.stop()
        self.receiver.stop()
        if errors:
            raise EngineError("; ".join(errors))

    def _start_containers(self) -> None:
        self.ports = Ports(prometheus=free_port(), alertmanager=free_port(), node_exporter=free_port(),
                           exporter=self.exporter.port, receiver=int(self.receiver.url.split(":")[2].split("/")[0]))
        ports = self.ports
        self._run("node-exporter", ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{ports.node_exporter}",
                                    "--collector.disable-defaults", "--collector.vmstat", "--collector.uname",
                                    "--collector.meminfo"], {})
        self._run("alertmanager", ["prometheus-alertmanager", f"--config.file={CONFIG_DIR}/alertmanager.yml",
                                   f"--web.listen-address=127.0.0.1:{ports.alertmanager}",
                                   "--cluster.listen-address=", "--storage.path=/tmp/alertmanager"],
                  {f"{CONFIG_DIR}/alertmanager.yml": alertmanager_config(self.profile, self.receiver.url)})
        names = container_names(self.files)
        files = {f"{RULES_DIR}/{n}": f.text for n, f in zip(names, self.files, strict=True)}
        files[f"{CONFIG_DIR}/prometheus.yml"] = prometheus_config(self.profile, ports, [f"{RULES_DIR}/*"])
        files[HISTORY_FILE] = self._history()
        start = (f"mkdir -p /prometheus && promtool tsdb create-blocks-from openmetrics {HISTORY_FILE} /prometheus "
                 f">/tmp/history.log 2>&1 || {{ cat /tmp/history.log; exit 3; }}; exec prometheus "
                 f"--config.file={CONFIG_DIR}/prometheus.yml --web.listen-address=127.0.0.1:{ports.prometheus} "
                 "--storage.tsdb.path=/prometheus --storage.tsdb.retention.time=1d")
        self._run("prometheus", ["sh", "-c", start], files)
        self.api = PrometheusApi(f"http://127.0.0.1:{ports.prometheus}", timeout_s=5.0 * self.time_scale)

    def _run(self, role: str, command: list[str], files: dict[str, str]) -> None:
        container = HostContainer(self.client, self.config, f"{self.name}-{role}", command, files,
                                  {**self.labels, f"{self.config.label}.monitoring": role})
        self.containers.append(container)
        container.start()

    def _history(self) -> str:
        """The series the rules read, at their values now, for the rules' longest look-back."""
        import httpx

        assert self.ports is not None
        lookback = max((longest_lookback_s(r.expr) for r in self.rules), default=0.0)
        self.history_s = min(MAX_HISTORY_S, max(MIN_HISTORY_S, lookback + 60.0))
        pages: dict[str, tuple[str, str]] = {}
        deadline = time.monotonic() + 10.0 * self.time_scale
        for job, (instance, path) in scrape_targets(self.ports).items():
            while True:
                try:
                    pages[job] = (instance, httpx.get(f"http://{instance}{path}", timeout=2.0).text)
                    break
                except httpx.HTTPError as exc:
                    if time.monotonic() > deadline:
                        raise EngineError(f"{job} did not answer at {instance}: {exc}") from exc
                    time.sleep(0.1)
        now = time.time()
        step = self.profile.scrape_interval_s
        reads = {metric for rule in self.rules for metric in rule.reads}
        return history_text(pages, reads, now - self.history_s, now - step, step)

    def _wait_ready(self) -> None:
        """Prometheus ready with every rule loaded, Alertmanager ready, each job scraped once."""
        assert self.api is not None and self.ports is not None
        deadline = time.monotonic() + (READY_TIMEOUT_S + 2 * self.profile.scrape_interval_s) * self.time_scale
        am = PrometheusApi(f"http://127.0.0.1:{self.ports.alertmanager}")
        try:
            while time.monotonic() < deadline:
                for container in self.containers:
                    gone = container.exited()
                    if gone:
                        raise EngineError(f"{container.name} {gone}")
                if self.api.ready() and am.ready():
                    loaded = set(self.api.alerting_rules())
                    targets = self.api.targets()
                    if {r.name for r in self.rules} <= loaded and targets and all(t.health != "unknown"
                                                                                 for t in targets):
                        self.started_at = time.time()
                        self._note_down_targets(targets)
                        return
                time.sleep(0.2)
        finally:
            am.close()
        raise TimeoutError("Prometheus, Alertmanager, the rules and a first scrape of every job were not ready "
                           f"within {(READY_TIMEOUT_S + 2 * self.profile.scrape_interval_s) * self.time_scale:.0f} s")

    def _note_down_targets(self, targets: Sequence[Any]) -> None:
        for target in targets:
            if target.health != "up":
                self.log(f"monitoring: job {target.job} is {target.health}: {target.last_error}")

    # -- the run's end ----------------------------------------------------------------

    def settle(self, kill_times: Sequence[float]) -> None:
        """Wait until every rule has decided about the run's last kill (or its end, when
        there was none): each rule's worst case under the profile, bounded by
        ``wait_bound_s``; sooner when every rule has already fired since."""
        if self._failure is not None:
            return
        began = time.time()
        last = max(kill_times, default=began)
        slack = (self.time_scale - 1.0) * 2.0
        until = began + settle_wait_s(self.profile, self.rules, last - began, self.wait_bound_s, slack)
        self.log(f"monitoring: waiting up to {max(0.0, until - began):.0f} s for the rules to decide "
                 f"({self.profile.name} profile)")
        while time.time() < until:
            fired = {n.rule for n in self.receiver.snapshot()
                     if n.status == "firing" and (n.starts_at or 0) >= last - 1}
            if kill_times and all(rule.name in fired for rule in self.rules):
                break
            if any(c.exited() for c in self.containers):
                break
            time.sleep(0.25)
        self.waited_s = round(time.time() - began, 3)

    def evidence(self) -> AlertEvidence:
        """What the stack did, read from the receiver and Prometheus's API."""
        status = self._status()
        states: tuple[RuleState, ...] = ()
        series: tuple[SeriesPoints, ...] = ()
        if status.available and self.api is not None:
            try:
                states = self._rule_states()
                series = self._series()
            except PrometheusUnreadable as exc:
                status = SourceStatus.unavailable(f"Prometheus could not be read at the end: {exc}")
        return AlertEvidence(
            profile=to_data(self.profile), rules=self.rules, notifications=tuple(self.receiver.snapshot()),
            states=states, series=series, series_absent=dict(self._series_absent), status=status,
            started_at=self.started_at, ended_at=time.time(), waited_s=self.waited_s, wait_bound_s=self.wait_bound_s,
            history_s=self.history_s, stack=self._facts())

    def _status(self) -> SourceStatus:
        if self._failure is not None:
            return SourceStatus.unavailable(self._failure)
        for container in self.containers:
            gone = container.exited()
            if gone:
                return SourceStatus.unavailable(f"{container.name} {gone}")
        received = self.receiver.status()
        if not received.available:
            return received
        if self.exporter.failures:
            return SourceStatus.unavailable(f"the exporter failed {self.exporter.failures} scrapes")
        return SourceStatus.ok()

    def _rule_states(self) -> tuple[RuleState, ...]:
        assert self.api is not None
        found: dict[str, dict[str, float]] = {}
        step = self.profile.evaluation_interval_s
        for labels, points in self.api.query_range("ALERTS", self.started_at, time.time(), step):
            if points:
                first = found.setdefault(labels.get("alertname", ""), {})
                state = labels.get("alertstate", "")
                first[state] = min(first.get(state, points[0][0]), points[0][0])
        return tuple(RuleState(name, first.get("pending"), first.get("firing")) for name, first in found.items())

    def _series(self) -> tuple[SeriesPoints, ...]:
        """Every series the rules read, from the stack's start to now; a metric with none
        is recorded absent with the reason."""
        assert self.api is not None
        found: list[SeriesPoints] = []
        reads = dict.fromkeys(metric for rule in self.rules for metric in rule.reads)
        for metric in reads:
            got = self.api.query_range(f'{{__name__="{metric}"}}', self.started_at, time.time(),
                                       self.profile.scrape_interval_s)
            # kube-state-metrics has no termination series before a termination, and
            # none for a reason the container is not waiting for: absence of a series
            # the exporter serves is a value (its source's availability is judged apart).
            if not got and metric not in kube_metrics.ABSENCE_MEANS:
                self._series_absent[metric] = absent_reason(metric)
            found += [SeriesPoints(metric, labels, tuple(points)) for labels, points in got]
        return tuple(found)

    def _facts(self) -> dict[str, Any]:
        return {"prometheus": "2.42 (Debian)", "alertmanager": "0.25 (Debian)", "node_exporter": "1.5 (Debian)",
                "image": self.config.monitoring_image, "scrapes_served": self.exporter.scrapes,
                "webhook_posts": self.receiver.posts, "jobs": list(scrape_targets(self.ports).keys())
                if self.ports else []}


def absent_reason(metric: str) -> str:
    """Why a metric a rule reads had no series during the run."""
    if metric in kube_metrics.METRIC_NEEDS:
        return "Prometheus stored no sample of it: every scrape of the harness's exporter failed"
    if metric.startswith("node_"):
        return f"node_exporter ({NODE_JOB}, vmstat, meminfo and uname collectors) served no {metric}"
    served = ", ".join(sorted(kube_metrics.METRIC_NEEDS))
    return f"not produced here (the harness serves {served} and node_exporter's node_vmstat_*, node_memory_*)"
