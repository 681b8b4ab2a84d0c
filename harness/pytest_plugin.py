"""pytest plugin: keep an OOM finding as a test in your own pipeline.

Installing oom-harness registers this module through the ``pytest11`` entry point, which
gives every test suite two fixtures:

* ``oom_harness``: runs a scenario (a file, a mapping built in the test, or a
  :class:`~harness.scenario.Scenario`) on the local Docker engine and returns its
  :class:`~harness.result.ScenarioResult`, so a test reads
  ``assert result.source("console_logs").verdict == "visible"``. When such a test fails,
  the gap matrix of every scenario it ran is added to the failure report.
* ``oom_harness_session``: the engine connection of the whole session. The lab image is
  built at most once, and only when a scenario uses ``image: labapp``; at the end every
  container this session made (label ``io.oom-harness.owner=<host>/<pid>/<start>``) is
  removed. Containers are started through testcontainers, so they share the test
  session's testcontainers session (and its reaper) with the suite's own containers:
  a killed pytest leaves nothing behind once the reaper's time-out has passed.

Without a reachable engine the tests that use them skip, except under ``CI=true``, where
they fail: a pipeline that silently skips its OOM checks would check nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.result import ScenarioResult
from harness.scenario import Scenario, load_scenario, parse_scenario

if TYPE_CHECKING:
    import docker

    from harness.backends.docker.backend import DockerBackend

ScenarioSpec = str | Path | Mapping[str, Any] | Scenario

RESULTS = pytest.StashKey[list[ScenarioResult]]()


def in_ci() -> bool:
    """True under ``CI=true`` (or ``1``/``yes``), where engine tests must not skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def engine_unavailable(reason: str) -> NoReturn:
    """Fail the test under CI, skip it elsewhere, saying why the engine cannot be used."""
    if in_ci():
        pytest.fail(f"CI=true but the engine tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine or lab image here: {reason}")


def _or_unavailable(prepare: Callable[[], None]) -> None:
    """Run ``prepare``; a HarnessError skips the test (fails it under CI)."""
    try:
        prepare()
    except HarnessError as exc:
        engine_unavailable(str(exc))


class HarnessSession:
    """One pytest session's engine: a client, the lab and ingress images built at most once,
    and the removal of the containers and networks this session left behind."""

    def __init__(self, config: HarnessConfig) -> None:
        self.config = config
        self._client: docker.DockerClient | None = None
        self._built: set[str] = set()
        self._build_errors: dict[str, HarnessError] = {}

    @property
    def client(self) -> docker.DockerClient:
        """A client for the running engine, connected on first use (EngineError if none answers)."""
        return self.connect()

    def connect(self) -> docker.DockerClient:
        """Connect to the engine unless already connected.

        Raises:
            EngineError: no engine answers.
        """
        if self._client is None:
            from harness.backends.docker import engine

            self._client = engine.connect(self.config)
        return self._client

    def prepare_lab_image(self) -> None:
        """Build the lab image, or find it up to date, once per session.

        A failure is remembered, so later tests fail fast instead of building again.
        """
        from harness.backends.docker.image import build_lab_image

        self._once("lab", build_lab_image)

    def prepare_ingress_image(self) -> None:
        """Build the HAProxy image, or find it up to date, once per session (a failure is
        remembered like the lab image's)."""
        from harness.backends.docker.ingress import build_ingress_image

        self._once("ingress", build_ingress_image)

    def prepare_monitoring_image(self) -> None:
        """Build the Prometheus/Alertmanager image, or find it up to date, once per session."""
        from harness.backends.docker.monitoring import build_monitoring_image

        self._once("monitoring", build_monitoring_image)

    def require_lab_image(self) -> None:
        """Like :meth:`prepare_lab_image`, but skips the test (fails it under CI) when the
        image cannot be had."""
        _or_unavailable(self.prepare_lab_image)

    def backend(self, scenario: Scenario) -> DockerBackend:
        """A Docker backend for ``scenario``, with the images it uses prepared: the lab
        image when its target is ``labapp``, the HAProxy image when it has an ingress."""
        from harness.backends.docker.backend import DockerBackend

        if scenario.target.uses_lab_image:
            self.require_lab_image()
        if scenario.ingress is not None:
            _or_unavailable(self.prepare_ingress_image)
        if scenario.monitoring is not None:
            from harness.backends.docker.monitoring import check_rules

            _or_unavailable(self.prepare_monitoring_image)
            check_rules(self.client, self.config, scenario.monitoring.rule_texts())  # a bad file fails the test
        return DockerBackend(self.client, self.config)  # starts the reaper before its first container

    def _once(self, name: str, build: Callable[..., object]) -> None:
        """Run ``build(client, config)`` the first time ``name`` is asked for; remember a failure."""
        if name in self._built:
            return
        if name in self._build_errors:
            raise self._build_errors[name]
        try:
            build(self.client, self.config, log=lambda line: None)
        except HarnessError as exc:
            self._build_errors[name] = exc
            raise
        self._built.add(name)

    def remove_leftovers(self) -> list[str]:
        """Remove every container carrying this session's owner label; their short ids."""
        if self._client is None:
            return []
        from harness.backends.docker.owner import remove_labelled

        return remove_labelled(self._client, self.config.label, (self.config.owner_label,))

    def close(self) -> None:
        """Remove what is left and drop the connection."""
        try:
            self.remove_leftovers()
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None


class OomHarness:
    """What a test gets from the ``oom_harness`` fixture: ``run`` a scenario, read its result."""

    def __init__(self, session: HarnessSession, node: pytest.Item, rootpath: Path) -> None:
        self.session = session
        self.node = node
        self.rootpath = rootpath
        self.results: list[ScenarioResult] = node.stash.setdefault(RESULTS, [])

    def run(self, scenario: ScenarioSpec, *, repeat: int | None = None, name: str | None = None,
            monitoring: str | None = None, rules: Sequence[str | Path] = ()) -> ScenarioResult:
        """Run ``scenario`` on the local engine and return its result (the matrix included).

        Args:
            scenario: a scenario file (relative paths are tried from the working directory,
                then from pytest's rootdir), a YAML-shaped mapping, or a Scenario.
            repeat: the number of runs, instead of the scenario's own ``repeat``.
            name: the scenario's name instead of its own (a mapping without a name gets
                the test's); it labels the containers (``io.oom-harness.scenario``).
            monitoring: run a Prometheus and Alertmanager beside it with this profile
                (``fast`` or ``production``), as ``harness run --monitoring``.
            rules: your Prometheus rules files to evaluate too (implies ``monitoring``);
                :func:`assert_alert_fires` then checks a rule against the kills.

        Raises:
            ScenarioError: the scenario is invalid; EngineError: the engine refused a step.
        """
        resolved, source = self.resolve(scenario, repeat, name)
        from harness.runner import run_scenario
        from harness.scenario.monitoring import add_monitoring

        resolved = add_monitoring(resolved, monitoring, rules)
        backend = self.session.backend(resolved)
        result = run_scenario(resolved, backend, scenario_file=source, show_progress=False)
        self.results.append(result)
        return result

    def survives(self, scenario: ScenarioSpec, limit: str | int, *, repeat: int = 2) -> ScenarioResult:
        """Fail the test unless ``scenario`` runs ``repeat`` times at memory limit ``limit``
        (``"512Mi"`` or bytes) with no OOM kill (the cgroup counter's). Returns the result."""
        result = self.run(self._at_limit(scenario, limit), repeat=repeat)
        kills = [run.figures.oom_kills for run in result.runs]
        if any(kills):
            peaks = ", ".join(f"{run.figures.peak_mb:g}" for run in result.runs if run.figures.peak_mb is not None)
            pytest.fail(f"{result.scenario} at {limit}: OOM kills in {sum(1 for k in kills if k)} of {len(kills)} "
                        f"runs ({sum(kills)} in all; peaks {peaks or 'unknown'} MB)", pytrace=False)
        return result

    def right_size(self, scenario: ScenarioSpec, *, step: str | int = "32Mi", repeat: int = 2,
                   high: str | int | None = None, low: str | int | None = None) -> tuple[int, list[Any]]:
        """The smallest memory limit (bytes, to within ``step``) at which ``scenario`` runs
        ``repeat`` of ``repeat`` times with no OOM kill, as ``harness right-size`` finds it;
        and its probes. Assert on it: ``limit, _ = oom_harness.right_size(...)``,
        ``assert limit <= parse_size("512Mi")``."""
        from harness.scenario.units import parse_size
        from harness.sweep.rightsize import bisect, probe_of

        base, _ = self.resolve(scenario)
        client = self.session.connect()
        max_bytes = int(client.info().get("MemTotal") or 0) or 2 * base.limits.memory
        limit, _, probes = bisect(lambda at: probe_of(at, self.run(self._at_limit(base, at), repeat=repeat)),
                                  parse_size(high) if high is not None else base.limits.memory, parse_size(step),
                                  max_bytes, parse_size(low) if low is not None else None, log=lambda line: None)
        return limit, probes

    def _at_limit(self, scenario: ScenarioSpec, limit: str | int) -> Scenario:
        resolved, source = self.resolve(scenario)
        data = resolved.model_dump(mode="json", by_alias=True)
        data["limits"] = {**data["limits"], "memory": limit}
        return parse_scenario(data, source or f"{self.node.nodeid}: scenario")

    def resolve(
        self, scenario: ScenarioSpec, repeat: int | None = None, name: str | None = None
    ) -> tuple[Scenario, str | None]:
        """Turn what the test gave into a validated Scenario and the file it came from."""
        if isinstance(scenario, Scenario):
            return _override(scenario, repeat, name, f"{self.node.nodeid}: scenario"), None
        if isinstance(scenario, Mapping):
            data = {**scenario, **_overrides(repeat, name)}
            return parse_scenario(data, f"{self.node.nodeid}: scenario", name=_test_name(self.node)), None
        path = self._find(Path(scenario))
        return _override(load_scenario(path, repeat=repeat), None, name, str(path)), str(path)

    def _find(self, path: Path) -> Path:
        """A file from the working directory, else from the rootdir, else a shipped scenario's name."""
        if path.is_absolute() or path.exists():
            return path
        from_root = self.rootpath / path
        if from_root.exists():
            return from_root
        from harness.scenario.catalog import resolve_scenario

        return resolve_scenario(str(path))


def assert_alert_fires(result: ScenarioResult, rule: str, within_s: float) -> list[float]:
    """Fail unless alerting rule ``rule`` paged for every OOM kill of every run, within
    ``within_s`` seconds of the kernel's kill (a kill that came while the rule was already
    firing counts as paged at once). Returns the latencies, one per kill.

    For a run made with ``monitoring`` or ``rules``; a run with no kill fails too, since
    it proves nothing about the rule."""
    from harness.matrix.alerts import kill_latencies

    latencies: list[float] = []
    problems: list[str] = []
    for run in result.runs:
        if run.evidence.alerts is None:
            problems.append(f"run {run.evidence.run} had no monitoring: run the scenario with monitoring= or rules=")
            continue
        if rule not in {r.name for r in run.evidence.alerts.rules}:
            names = ", ".join(r.name for r in run.evidence.alerts.rules)
            problems.append(f"no alerting rule named {rule} was evaluated (rules: {names})")
            continue
        row = next((r for r in run.matrix if r.source == f"alert:{rule}"), None)
        if row is not None and row.verdict == "unavailable":
            problems.append(f"run {run.evidence.run}: {rule} could not be judged: {row.note}")
            continue
        found = kill_latencies(run.evidence, rule)
        if not found:
            problems.append(f"run {run.evidence.run} had no OOM kill to page for")
        for i, latency in enumerate(found, start=1):
            if latency is None:
                problems.append(f"run {run.evidence.run}: {rule} never paged for kill {i}")
            elif latency > within_s:
                problems.append(f"run {run.evidence.run}: {rule} paged {latency:.1f} s after kill {i} "
                                f"(more than {within_s:g} s)")
            else:
                latencies.append(latency)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)
    return latencies


def _overrides(repeat: int | None, name: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if repeat is not None:
        values["repeat"] = repeat
    if name is not None:
        values["name"] = name
    return values


def _override(scenario: Scenario, repeat: int | None, name: str | None, source: str) -> Scenario:
    """The scenario with another repeat count or name, validated like a file's."""
    changes = _overrides(repeat, name)
    if not changes:
        return scenario
    return parse_scenario({**scenario.model_dump(mode="json", by_alias=True), **changes}, source)


def _test_name(node: pytest.Item) -> str:
    """A scenario name made from the test's name (letters, digits, '.', '_', '-')."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", node.name).strip("-._")
    return name[:64] or "test"


@pytest.fixture(scope="session")
def oom_harness_session() -> Iterator[HarnessSession]:
    """The session's engine connection; removes this session's containers at the end."""
    session = HarnessSession(HarnessConfig())
    try:
        session.connect()
    except HarnessError as exc:
        engine_unavailable(str(exc))
    yield session
    session.close()


@pytest.fixture
def oom_harness(oom_harness_session: HarnessSession, request: pytest.FixtureRequest) -> OomHarness:
    """Runs scenarios from a test: ``result = oom_harness.run("scenarios/spike.yaml", repeat=1)``."""
    return OomHarness(oom_harness_session, request.node, request.config.rootpath)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the gap matrix of every scenario a failed test ran to its report."""
    report = yield
    results = item.stash.get(RESULTS, [])
    if report.when == "call" and report.failed and results:
        from harness.report import render_text

        for result in results:
            report.sections.append((f"oom-harness: scenario {result.scenario}", render_text(result)))
    return report
