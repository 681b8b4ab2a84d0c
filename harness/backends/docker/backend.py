"""The Docker backend: runs one scenario run in a real, memory-limited container and
reads every signal this machine offers about it."""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException

from harness import cgroupfs
from harness.backends.base import LiveStatus
from harness.backends.docker import oomgroup
from harness.backends.docker.container import ContainerSpec, LabContainer
from harness.backends.docker.engine import EngineInfo, describe, require_memory_limits
from harness.backends.docker.image import Log, build_lab_image
from harness.backends.docker.ingress import (
    APP_ALIAS,
    IngressProxy,
    PrivateNetwork,
    build_ingress_image,
    haproxy_config,
)
from harness.backends.docker.monitoring import MonitoringStack, build_monitoring_image, check_rules
from harness.backends.docker.owner import remove_leftovers
from harness.backends.docker.reaper import ensure_reaper
from harness.collectors import ingress_log, kernel_log
from harness.collectors.base import Collector, ThreadedCollector
from harness.collectors.cgroup import CgroupOomCollector
from harness.collectors.console_follow import ConsoleFollower
from harness.collectors.engine_events import EngineEventsCollector
from harness.collectors.engine_state import EngineStateCollector
from harness.collectors.memory import MemorySampler, one_minute_averages
from harness.config import HarnessConfig
from harness.errors import EngineError, EngineLost, HarnessError, ScenarioError, first_line
from harness.evidence import ContainerState, RunEvidence, SourceStatus
from harness.jsondata import to_data
from harness.monitoring import kube_metrics
from harness.monitoring.external import ExternalAlerting
from harness.monitoring.kube_metrics import Exit, Identity, KubeView, fresh_view
from harness.monitoring.profiles import PROFILES
from harness.scenario import Scenario
from harness.scenario.commands import target_command
from harness.units import MIB

#: What watches a run's alerting: the stack the harness starts, or your Prometheus.
Alerting = MonitoringStack | ExternalAlerting


def container_spec(scenario: Scenario, config: HarnessConfig, run_id: str) -> ContainerSpec:
    """Resolve a scenario's target and limits into what the engine needs."""
    target, limits = scenario.target, scenario.limits
    restart: dict[str, Any] | None = None
    if scenario.restart.policy != "no":
        restart = {"Name": scenario.restart.policy}
        if scenario.restart.policy == "on-failure":
            restart["MaximumRetryCount"] = scenario.restart.max_retries
    return ContainerSpec(
        image=config.image if target.image == "labapp" else target.image,
        port=target.port,
        command=_command(scenario),
        env=dict(target.env),
        memory_bytes=limits.memory,
        memory_swap_bytes=limits.memory_swap or limits.memory,
        nano_cpus=int(limits.cpus * 1e9) if limits.cpus else None,
        restart_policy=restart,
        pids_limit=limits.pids,
        labels=run_labels(scenario, config, run_id, "run"),
        name=f"oom-harness-{run_id}",
    )


def run_labels(scenario: Scenario, config: HarnessConfig, run_id: str, role: str) -> dict[str, str]:
    """The labels on everything one run makes (``role``: run, ingress or network), so
    ``harness clean``, the pytest plugin and the next harness find leftovers by user and owner."""
    return {config.label: role, f"{config.label}.scenario": scenario.name, f"{config.label}.run": run_id,
            f"{config.label}.owner": config.owner, f"{config.label}.user": config.user}


def _command(scenario: Scenario) -> list[str] | None:
    """The target's command; with an address-space limit, run under ``prlimit``.

    The limit cannot be a container ulimit: the runtime's own init process starts under
    it and fails with less address space than a Go program reserves. So it is applied to
    the target's process (and inherited by its children) instead.
    """
    command = target_command(scenario.target)
    limit = scenario.limits.address_space
    if limit is None:
        return command
    if command is None:
        raise ScenarioError(
            f"scenario {scenario.name}: limits.address_space needs a process command "
            "(gunicorn, uwsgi, uvicorn or plain), not the image's own")
    return ["prlimit", f"--as={limit}", "--", *command]


def prepare_images(
    client: docker.DockerClient, config: HarnessConfig, scenario: Scenario, log: Log = print
) -> None:
    """Build (or find current) the images ``scenario`` needs: the lab image when its
    target is ``labapp``, the HAProxy image when it declares an ingress, the monitoring
    image when it has a monitoring section, whose rules files promtool then checks
    (before anything of the run starts)."""
    if scenario.target.uses_lab_image:
        build_lab_image(client, config, log=log)
    if scenario.ingress is not None:
        build_ingress_image(client, config, log=log)
    if scenario.monitoring is not None and not scenario.monitoring.external:
        build_monitoring_image(client, config, log=log)
        check_rules(client, config, scenario.monitoring.rule_texts())


def require_images(client: docker.DockerClient, config: HarnessConfig, scenario: Scenario) -> None:
    """Check, without building, that the images ``scenario`` needs are on the engine.

    Used where images arrive built (loaded into the cgroup v2 guest from the host's saves):
    building there would mean a debootstrap under emulation.
    """
    wanted = [config.image] if scenario.target.uses_lab_image else []
    if scenario.ingress is not None:
        wanted.append(config.ingress_image)
    if scenario.monitoring is not None and not scenario.monitoring.external:
        wanted.append(config.monitoring_image)
    for tag in wanted:
        try:
            client.images.get(tag)
        except DockerException as exc:
            raise EngineError(f"image {tag} is not on this engine ({first_line(exc)})") from exc


def container_cgroup(pid: int, container_id: str) -> tuple[cgroupfs.CgroupMemory | None, str | None]:
    """The container's memory cgroup on this machine, or None with the reason it is not
    here (then every host-side source is unavailable for that reason).

    The engine reports the container's PID in its own PID namespace. When the engine runs
    on another kernel (Docker Desktop's VM, a remote DOCKER_HOST, rootless Docker in its
    own PID namespace) that number is some other process here, or none: the cgroup found
    must name the container's id (``docker-<id>.scope``, ``/docker/<id>``,
    ``libpod-<id>.scope``) to be the container's.
    """
    elsewhere = ("the engine does not run on this machine's kernel (Docker Desktop, a remote DOCKER_HOST "
                 "or rootless Docker in its own PID namespace)")
    if pid <= 0:
        return None, f"the engine reported no PID for container {container_id[:12]}"
    cgroup = cgroupfs.for_pid(pid)
    if cgroup is None:
        if not Path(f"/proc/{pid}").exists():
            return None, f"the container's PID {pid} is no process here: {elsewhere}"
        return None, "container's memory cgroup not found under /sys/fs/cgroup"
    if container_id not in str(cgroup.path):
        return None, f"the cgroup of PID {pid} ({cgroup.path}) does not name container {container_id[:12]}: {elsewhere}"
    return cgroup, None


def oom_event_status(events: SourceStatus, engine_label: str | None) -> SourceStatus:
    """The ``engine_oom_event`` source's status: the event stream's, except on Podman,
    whose event stream has no ``oom`` event at all (it tells of an OOM only through
    ``OOMKilled`` when the container exits): there the source cannot exist, so no kill
    can count as missed by it."""
    if events.available and engine_label and engine_label.startswith("Podman"):
        return SourceStatus.unavailable(f"{engine_label} has no oom event in its event stream; it reports an "
                                        "OOM only as OOMKilled when the container exits")
    return events


#: How long a session waits for the container's process when it starts between two
#: incarnations (a restart policy restarting it): the PID finds its cgroup.
PID_WAIT_S = 10.0


def wait_for_pid(inspect: Callable[[], dict[str, Any]], bound_s: float) -> int:
    """The container's PID; while it is being (re)started (PID 0, restarting or created),
    inspected again for at most ``bound_s``. A container that exited for good has none."""
    deadline = time.monotonic() + bound_s
    while True:
        state = inspect()["State"]
        pid = int(state.get("Pid") or 0)
        waiting = state.get("Restarting") or state.get("Status") in ("restarting", "created")
        if pid > 0 or not waiting or time.monotonic() >= deadline:
            return pid
        time.sleep(0.05)


class DockerBackend:
    """Runs scenarios on the local Docker engine."""

    name = "docker"

    def __init__(self, client: docker.DockerClient, config: HarnessConfig, log: Log = lambda line: None,
                 time_scale: float = 1.0) -> None:
        self.client = client
        self.config = config
        self.log = log
        self.time_scale = time_scale  # how much slower this machine is (the emulated guest), for bounded waits
        self._info: EngineInfo | None = None
        self._engine_ready = False

    def _prepare_engine(self) -> None:
        """Before the first container: remove what killed harnesses of this user left (the
        fall-back when no reaper ran) and make sure the session's reaper runs."""
        if self._engine_ready:
            return
        remove_leftovers(self.client, self.config.label, self.config.user, self.log)
        ensure_reaper(self.client, self.config, self.log)
        self._engine_ready = True

    def engine_info(self) -> EngineInfo:
        """What the engine says about itself (asked once)."""
        if self._info is None:
            self._info = describe(self.client)
        return self._info

    def describe(self) -> dict[str, Any]:
        return dict(to_data(self.engine_info()))

    @contextmanager
    def launch(self, scenario: Scenario, run: int) -> Iterator[DockerSession]:
        run_id = uuid.uuid4().hex[:12]
        info = self.engine_info()
        require_memory_limits(scenario.name, info)
        if scenario.limits.oom_group:
            oomgroup.require_cgroup_v2(scenario.name, info.cgroup_version)
        self._prepare_engine()
        spec = container_spec(scenario, self.config, run_id)
        kmsg = kernel_log.KernelLogCollector()
        kmsg.start()  # before the container exists, so no early kill is missed
        try:
            with ExitStack() as stack:  # left in reverse: proxy, app, monitoring, network
                if scenario.ingress is not None:
                    network = stack.enter_context(PrivateNetwork(
                        self.client, f"oom-harness-{run_id}", run_labels(scenario, self.config, run_id, "network")))
                    spec = replace(spec, network=network.name, network_aliases=(APP_ALIAS,))
                sessions: list[DockerSession] = []  # the exporter's view reads the session once it exists
                monitoring: Alerting | None = None
                if scenario.monitoring is not None:
                    monitoring = self._monitoring(scenario, run_id, spec, sessions)
                    stack.enter_context(monitoring)
                container = stack.enter_context(LabContainer(self.client, spec, self.config))
                proxy = None
                if scenario.ingress is not None:
                    proxy = stack.enter_context(IngressProxy(
                        self.client, self.config.ingress_image, spec.network or "",
                        haproxy_config(scenario.ingress, APP_ALIAS, scenario.target.port),
                        run_labels(scenario, self.config, run_id, "ingress"), name=f"oom-harness-{run_id}-ingress",
                        config=self.config))
                engine_label = f"{self.describe()['name'].capitalize()} {self.describe()['version'].split('+')[0]}"
                same_kernel = str(self.describe().get("kernel")) == platform.release()
                session = DockerSession(self.client, container, scenario, run, kmsg, proxy, engine_label,
                                        monitoring, self.time_scale, same_kernel)
                sessions.append(session)
                if isinstance(monitoring, ExternalAlerting):
                    monitoring.add_container_name(container.id)
                try:
                    yield session
                finally:
                    session.stop()
        finally:
            kmsg.stop()


    def _monitoring(self, scenario: Scenario, run_id: str, spec: ContainerSpec,
                    sessions: list[DockerSession]) -> Alerting:
        """The run's Prometheus, Alertmanager and node_exporter, started before the
        container: until the session exists its view is the fresh pod's. With
        ``prometheus_url``, your Prometheus is followed instead."""
        assert scenario.monitoring is not None
        if scenario.monitoring.external:
            assert scenario.monitoring.prometheus_url is not None
            return ExternalAlerting(scenario.monitoring.prometheus_url, scenario.monitoring.alertmanager_url,
                                    [spec.name or run_id], scenario.monitoring.wait, self.time_scale, self.log)
        identity = Identity(pod=spec.name or run_id, image=spec.image)
        return MonitoringStack(
            self.client, self.config, PROFILES[scenario.monitoring.profile], scenario.monitoring.alert_rules(),
            scenario.monitoring.rule_texts(),
            view=lambda: sessions[0].kube_view(identity) if sessions else fresh_view(identity),
            labels=run_labels(scenario, self.config, run_id, "monitoring"), name=f"oom-harness-{run_id}",
            wait_bound_s=scenario.monitoring.wait, time_scale=self.time_scale, log=self.log)


class DockerSession:
    """One running container and the collectors watching it.

    Every signal source is a collector (:class:`~harness.collectors.base.Collector`):
    the OOM watch, the memory sampler, engine state and events, the console logs, and the
    kernel log that :meth:`DockerBackend.launch` started before the container. Each
    source's status is its collector's; :meth:`finish` stops them and assembles a new
    :class:`RunEvidence` from their snapshots (copies: no collector touches it after).
    """

    def __init__(
        self,
        client: docker.DockerClient,
        container: LabContainer,
        scenario: Scenario,
        run: int,
        kmsg: kernel_log.KernelLogCollector,
        proxy: IngressProxy | None = None,
        engine_label: str | None = None,
        monitoring: Alerting | None = None,
        time_scale: float = 1.0,
        same_kernel: bool = True,
    ) -> None:
        self.container = container
        self.proxy = proxy
        self.monitoring = monitoring
        self.scenario = scenario
        self.run = run
        self.kmsg = kmsg
        self.started_at = container.created_at
        # The client goes through the ingress when there is one; the health probe, like a
        # platform's, goes straight to the app.
        self.probe_url = f"http://127.0.0.1:{container.host_port()}"
        self.base_url = f"http://127.0.0.1:{proxy.host_port()}" if proxy else self.probe_url
        pid = wait_for_pid(container.inspect, PID_WAIT_S * time_scale)
        self.cgroup, self.host_side_reason = container_cgroup(pid, container.id)
        self.sampler = MemorySampler(self.cgroup, interval=scenario.sample_interval,
                                     limit_bytes=scenario.limits.memory)
        self.oom = CgroupOomCollector(self.cgroup, interval=0.02, on_wake=self.sampler.nudge)
        self.group_writes = 0
        self.group_error: str | None = None
        if scenario.limits.oom_group:
            oomgroup.enable_group_kill(self.cgroup)  # before the app can allocate much
            self.group_writes = 1
        if self.host_side_reason is not None:
            # The engine is not on this kernel (or the container has no process to find
            # its cgroup by): what this machine's cgroups say is about something else, so
            # none of it may count as "seen" or "gap". The kernel log needs no PID (it
            # filters by the container's id): it stays when the engine shares this kernel.
            host_side: tuple[ThreadedCollector[Any], ...] = (self.oom, self.sampler)
            for collector in host_side if pid <= 0 and same_kernel else (*host_side, self.kmsg):
                collector.set_unavailable(self.host_side_reason)
        self.state = EngineStateCollector(container.inspect)
        self.events = EngineEventsCollector(
            client.api.events(since=int(container.created_at) - 1, filters={"container": container.id}, decode=True),
            # Inspected at the oom event too: Docker 24+ sets OOMKilled then, while PID 1 may
            # still run, and clears it when the restart policy starts the container again,
            # which under emulation came before the inspection that follows the die (the
            # guest's pid1-oom-alerts counted 3 of 4 OOM exits once).
            on_die=self.state.record, on_start=self._on_start, on_oom=self.state.record,
        )
        self.engine_label = engine_label  # "Docker 26.1.5", for notes on engine-specific behaviour
        self.console = ConsoleFollower(self._follow_logs, self._read_logs)
        self._stopped = False
        # The kernel log runs from before the container to after the run (launch stops it).
        started: list[Collector[Any]] = []
        try:
            for collector in (self.oom, self.sampler, self.state, self.events, self.console):
                collector.start()
                started.append(collector)
        except BaseException:
            for collector in reversed(started):
                collector.stop()
            self.events.stop()  # its stream is open from the start
            raise

    def _on_start(self) -> None:
        """A (re)start of the container: its cgroup is new, so group kill is set again."""
        if not self.scenario.limits.oom_group:
            return
        try:
            oomgroup.enable_group_kill(self.cgroup)
            self.group_writes += 1
        except HarnessError as exc:  # reported with the run's facts; the run goes on
            self.group_error = str(exc)

    def live(self) -> LiveStatus:
        sample = self.sampler.latest()
        memory_mb = sample.usage_bytes / MIB if sample and sample.usage_bytes is not None else None
        state = self.state.state
        exited = state.status in ("exited", "dead")
        return LiveStatus(self._kills_now(), memory_mb, self.console.allocated_mb, exited, self._engine_lost())

    def _engine_lost(self) -> str | None:
        """Why the engine's event stream broke before the run ended (the engine crashed or
        restarted), None while it flows."""
        if self.events.thread.error is None:
            return None
        return self.events.status().reason

    def _kills_now(self) -> int:
        if self.oom.status().available:
            return self.oom.kills
        return len(kernel_log.find_kills(self.kmsg.snapshot(), self.container.id))

    def stop(self) -> None:
        """Stop every collector of the container (idempotent); the container is removed
        by the caller. The console's stop reads the whole log, while the container exists."""
        if self._stopped:
            return
        self._stopped = True
        stopped: tuple[Collector[Any], ...] = (self.sampler, self.oom, self.state, self.events, self.console)
        for collector in stopped:
            collector.stop()

    def kube_view(self, identity: Identity) -> KubeView:
        """The container as cAdvisor and kube-state-metrics would report it now, from the
        live collectors (see :mod:`harness.monitoring.kube_metrics`); a value whose
        collector cannot read its source is None, and its series is left out."""
        kernel_ok = self.kmsg.status().available
        kernel = kernel_log.find_kills(self.kmsg.snapshot(), self.container.id) if kernel_ok else []
        kernel_times = [self.kmsg.boot_wall + k.usec / 1e6 for k in kernel]
        kill_times = kernel_times if kernel_ok else [o.t for o in self.oom.snapshot() if o.kill]
        lifecycle = self.events.snapshot()
        exits = [Exit(o.t, int(o.detail.get("exit_code", 0))) for o in lifecycle if o.kind == "die"]
        starts = [o.t for o in lifecycle if o.kind == "start"]
        state = self.state.state
        sample = self.sampler.latest()
        restarts = state.restart_count
        return KubeView(
            identity=identity,
            oom_events=kube_metrics.oom_events([t for t, k in zip(kernel_times, kernel, strict=True)
                                                if not k.group_member]) if kernel_ok else None,
            working_set_bytes=sample.working_set_bytes if sample and self.sampler.status().available else None,
            restarts=int(restarts) if restarts is not None else None,
            last_terminated_reason=kube_metrics.last_terminated_reason(exits, starts, kill_times),
            waiting_reason=kube_metrics.waiting_reason(state.status, exits[-1].exit_code if exits else None,
                                                       restarts),
            engine_readable=self.state.status().available and state != ContainerState(),
            exits_readable=self.events.status().available and (kernel_ok or self.oom.status().available),
        )

    def _kill_times_now(self) -> list[float]:
        """When the kills so far happened (the kernel's times, else the counter's)."""
        if self.kmsg.status().available:
            kernel = kernel_log.find_kills(self.kmsg.snapshot(), self.container.id)
            return [self.kmsg.boot_wall + k.usec / 1e6 for k in kernel if not k.group_member]
        return [o.t for o in self.oom.snapshot() if o.kill]

    def finish(self) -> RunEvidence:
        """Stop collecting and assemble the run's evidence from the collectors' snapshots:
        copies, so nothing a collector does later changes the evidence returned.

        With a monitoring stack, the run first waits (bounded) for its rules to decide,
        while the collectors and the exporter still watch the container."""
        alerts = None
        if self.monitoring is not None:
            self.monitoring.settle(self._kill_times_now())
            alerts = self.monitoring.evidence()
        self.stop()
        if (engine_gone := self._engine_lost()) is not None:
            raise EngineLost(engine_gone, self.run)
        ended = time.time()
        cgroup_kills = self.oom.snapshot()
        observations = cgroup_kills + self.events.snapshot() + self.state.snapshot() + self.console.snapshot()
        if self.proxy is not None:
            observations += ingress_log.parse_logs(self.proxy.logs(), fallback_t=ended)
        kmsg_status = self.kmsg.status()
        lost = self.kmsg.lost_around([o.t for o in cgroup_kills if o.kill])
        if kmsg_status.available and lost:
            # The counter rose while the kernel's ring buffer was overwriting records: the
            # log cannot say whether it reported those kills.
            kmsg_status = SourceStatus.unavailable(
                "the kernel's ring buffer overwrote records before they were read, around a kill: "
                + "; ".join(g.describe() for g in lost))
        kernel = kernel_log.find_kills(self.kmsg.snapshot(), self.container.id) if kmsg_status.available else []
        observations += kernel_log.to_observations(kernel, self.kmsg.boot_wall)
        kills = kernel_log.pair_with_counter(kernel_log.kills_from(kernel, self.kmsg.boot_wall),
                                             [o.t for o in cgroup_kills])
        samples = self.sampler.snapshot()
        working = [s.working_set_bytes for s in samples if s.working_set_bytes is not None]
        return RunEvidence(
            run=self.run, backend="docker", started_at=self.started_at, ended_at=ended,
            memory_limit_bytes=self.scenario.limits.memory,
            observations=sorted(observations, key=lambda o: o.t),
            kills=kills,
            status=self._status(kmsg_status),
            samples=samples,
            highwater_bytes=self.sampler.highwater,
            one_minute=one_minute_averages(samples, working[0] if working else None,
                                           working[-1] if working else None),
            engine_label=self.engine_label,
            final_state=self.state.state,
            alerts=alerts,
            facts={"container_id": self.container.id[:12], "cgroup": self._cgroup_fact(),
                   "oom_watch_wakes": self.oom.wakes,
                   **self._group_fact(),
                   "oom_detection": self.oom.detection, "kernel_clock": self.kmsg.clock,
                   "kernel_log_gaps": [g.describe() for g in self.kmsg.gaps],
                   "collector_cpu_s": {"memory_sampler": round(self.sampler.cpu_s, 4),
                                       "oom_watch": round(self.oom.cpu_s, 4)},
                   "sampled_s": round(samples[-1].t - samples[0].t, 3) if samples else 0.0,
                   "console_log_lines": self.console.lines,
                   **self._ingress_fact()},
        )

    def _group_fact(self) -> dict[str, Any]:
        if not self.scenario.limits.oom_group:
            return {}
        return {"oom_group": {"writes": self.group_writes, "error": self.group_error}}

    def _ingress_fact(self) -> dict[str, Any]:
        ingress = self.scenario.ingress
        if ingress is None or self.proxy is None:
            return {}
        return {"ingress": {"proxy": "haproxy", "image": self.proxy.image, "url": self.base_url,
                            **ingress.model_dump(mode="json")}}

    def _status(self, kernel: SourceStatus | None = None) -> dict[str, SourceStatus]:
        """Every source's status, as its collector reports it (``kernel``: the kernel
        log's, when already read)."""
        events, state, memory = self.events.status(), self.state.status(), self.sampler.status()
        return {
            "cgroup": self.oom.status(), "kernel_log": kernel if kernel is not None else self.kmsg.status(),
            "engine_oom_event": oom_event_status(events, self.engine_label), "lifecycle_events": events,
            "engine_state": state, "restart_count": state,
            "console_logs": self.console.status(), "metric_highres": memory, "metric_1m_avg": memory,
        }

    def _cgroup_fact(self) -> dict[str, Any] | None:
        if self.cgroup is None:
            return None
        return {"version": self.cgroup.version, "path": str(self.cgroup.path)}

    def _follow_logs(self) -> Iterable[bytes]:
        """The container's log stream, followed (timestamped lines, as they come)."""
        assert self.container.container is not None
        stream: Iterable[bytes] = self.container.container.logs(stream=True, follow=True, timestamps=True)
        return stream

    def _read_logs(self) -> bytes:
        """The container's whole log, timestamped."""
        assert self.container.container is not None
        raw: bytes = self.container.container.logs(timestamps=True)
        return raw
