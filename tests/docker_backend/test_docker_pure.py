"""The Docker backend's pure parts: pid files, the image's source digest, the container spec,
and what the engine says about itself (recorded from Docker 20.10, see tests/data/recorded)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from docker.errors import DockerException

from harness.backends.docker.backend import container_spec
from harness.backends.docker.container import LabContainer, managed_container
from harness.backends.docker.engine import EngineInfo, describe, remove_stale_pid_files, require_memory_limits
from harness.backends.docker.image import (
    LabSources,
    assemble_context,
    follow_build,
    installed_sources,
    source_digest,
)
from harness.config import HarnessConfig
from harness.errors import EngineError, ImageError, ScenarioError
from harness.jsondata import to_data
from harness.scenario import Scenario, parse_scenario

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded"
MIB = 2**20


# --- pid files -------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_pid_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead, live, empty, garbage = (tmp_path / f"{n}.pid" for n in ("dead", "live", "empty", "garbage"))
    dead.write_text(f"{_dead_pid()}\n")
    live.write_text(f"{os.getpid()}\n")
    empty.write_text("")
    garbage.write_text("not a pid")
    missing = tmp_path / "missing.pid"
    removed = remove_stale_pid_files((dead, live, empty, garbage, missing))
    assert removed == [dead, empty, garbage]
    assert live.exists() and not dead.exists() and not missing.exists()
    assert remove_stale_pid_files((live, missing)) == []


def test_the_pid_file_of_a_killed_unreaped_engine_is_stale(tmp_path: Path) -> None:
    """A dockerd killed a moment ago is a zombie until its parent reaps it; its pid file
    must be removed at once, or the restarted dockerd refuses ("pid file found")."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        child.kill()
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        pid_file = tmp_path / "docker.pid"
        pid_file.write_text(str(child.pid))
        assert remove_stale_pid_files((pid_file,)) == [pid_file]  # not reaped yet, still stale
    finally:
        child.wait()


# --- image source digest ---------------------------------------------------------------


@pytest.fixture
def context(tmp_path: Path) -> LabSources:
    """A copy of the installed lab image sources: the files the digest covers, and one it does not."""
    installed = installed_sources()
    copy = LabSources(tmp_path / "lab", tmp_path / "harness")
    for name, path in installed.files():
        target = (copy.lab / Path(name).name) if name != "harness/cgroupfs.py" else copy.harness / "cgroupfs.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (copy.harness / "README.md").write_text("not part of the image\n")
    return copy


def test_the_installed_lab_is_found_without_importing_it() -> None:
    import subprocess
    import sys

    names = [name for name, _ in installed_sources().files()]
    assert names[:2] == ["Dockerfile", "labapp/requirements.txt"] and "labapp/app.py" in names
    assert names[-1] == "harness/cgroupfs.py"
    probe = ("import sys; from harness.backends.docker.image import installed_sources; installed_sources(); "
             "print([m for m in sys.modules if m.startswith('harness.lab')])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_copy_of_the_sources_has_the_same_digest(context: LabSources) -> None:
    digest = source_digest(context)
    assert digest == source_digest(installed_sources())
    assert len(digest) == 16 and int(digest, 16) >= 0


def test_changing_the_app_source_changes_the_digest(context: LabSources) -> None:
    before = source_digest(context)
    app = context.lab / "app.py"
    app.write_text(app.read_text() + "\n# changed\n")
    assert source_digest(context) != before


@pytest.mark.parametrize("change", ["new module", "requirements", "dockerfile", "renamed", "cgroupfs"])
def test_every_kind_of_source_change_counts(context: LabSources, change: str) -> None:
    before = source_digest(context)
    if change == "new module":
        (context.lab / "extra.py").write_text("X = 1\n")
    elif change == "requirements":
        (context.lab / "requirements.txt").write_text("flask==3.1.3\n")
    elif change == "dockerfile":
        (context.lab / "Dockerfile").write_text((context.lab / "Dockerfile").read_text() + "LABEL x=y\n")
    elif change == "cgroupfs":
        (context.harness / "cgroupfs.py").write_text("# changed\n")
    else:
        (context.lab / "alloc.py").rename(context.lab / "alloc2.py")
    assert source_digest(context) != before


def test_files_outside_the_image_do_not_change_the_digest(context: LabSources) -> None:
    before = source_digest(context)
    (context.harness / "README.md").write_text("edited\n")
    (context.lab / "notes.txt").write_text("not a source\n")
    assert source_digest(context) == before


def test_the_build_context_is_laid_out_as_a_clone(context: LabSources, tmp_path: Path) -> None:
    """The root Dockerfile builds from a clone and from this context alike."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "flask-3.1.3-py3-none-any.whl").write_bytes(b"wheel")
    dest = tmp_path / "build"
    dest.mkdir()
    assemble_context(context, dest, wheels)
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert "Dockerfile" in files and "labapp/requirements.txt" in files
    assert "harness/cgroupfs.py" in files and "labapp/app.py" in files
    assert "wheels/flask-3.1.3-py3-none-any.whl" in files
    assert "labapp/notes.txt" not in files and not any("/collectors/" in f for f in files)
    assert not (dest / "harness" / "__init__.py").exists()  # the Dockerfile writes the image's own


def test_the_clone_context_holds_what_the_root_dockerfile_copies() -> None:
    """Every COPY source of the root Dockerfile is in the clone, and .dockerignore lets it through."""
    root = Path(__file__).resolve().parents[2]
    dockerfile = (root / "Dockerfile").read_text()
    assert "COPY labapp/requirements.txt wheel[s] /app/build/" in dockerfile
    assert (root / "labapp" / "requirements.txt").is_file() and (root / "harness" / "cgroupfs.py").is_file()
    assert (root / "labapp" / "Dockerfile").resolve() == (root / "Dockerfile").resolve()
    allowed = [line for line in (root / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert allowed == ["!Dockerfile", "!labapp/*.py", "!labapp/requirements.txt", "!harness/cgroupfs.py",
                       "!wheels/*.whl"]


def test_missing_image_sources_are_named(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    with pytest.raises(ImageError, match=r"missing: .*lab/Dockerfile, .*lab/requirements.txt, .*cgroupfs.py"):
        assemble_context(LabSources(tmp_path / "lab", tmp_path), tmp_path / "out", None)


def testfollow_build_takes_the_image_id_and_stops_at_errors() -> None:
    logged: list[str] = []
    stream: list[dict[str, Any]] = [
        {"stream": "Step 1/9 : ARG BASE_IMAGE=python:3.11-slim\n"},
        {"stream": "\n"},
        {"stream": " ---> Using cache\n"},
        {"aux": {"ID": "sha256:800ebe148509aa"}},
    ]
    assert follow_build(iter(stream), logged.append) == "sha256:800ebe148509aa"
    assert logged == ["image: Step 1/9 : ARG BASE_IMAGE=python:3.11-slim"]
    legacy: list[dict[str, Any]] = [{"stream": "Successfully built 800ebe148509\n"},
                                    {"stream": "Successfully tagged x:latest\n"}]
    assert follow_build(iter(legacy), logged.append) == "800ebe148509"
    assert follow_build(iter([{"stream": "Step 1/1 : FROM x\n"}]), logged.append) is None
    failing: list[dict[str, Any]] = [{"stream": "Step 5/9 : RUN pip install\n"},
               {"errorDetail": {"code": 1, "message": "returned a non-zero code: 1"},
                "error": "The command '/bin/sh -c pip install' returned a non-zero code: 1"}]
    with pytest.raises(ImageError, match="returned a non-zero code: 1"):
        follow_build(iter(failing), logged.append)


# --- engine facts ----------------------------------------------------------------------


class _Client:
    """Answers ``info()`` and ``version()`` with what this machine's engine answered."""

    def __init__(self, fail: bool = False, folder: Path = RECORDED) -> None:
        self.fail = fail
        self.folder = folder

    def info(self) -> dict[str, Any]:
        if self.fail:
            raise DockerException("Error while fetching server API version: connection refused")
        data: dict[str, Any] = json.loads((self.folder / "engine_info.json").read_text())
        return data

    def version(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "engine_version.json").read_text())
        return data


def test_describe_reads_the_recorded_engine() -> None:
    info = describe(_Client())  # type: ignore[arg-type]
    assert info == EngineInfo("docker", "20.10.24+dfsg1", "1.41", "1", "cgroupfs", "6.18.44-fc-v669")
    assert to_data(info)["cgroup_driver"] == "cgroupfs"


def test_podmans_docker_compatible_api_is_named_podman() -> None:
    # Recorded from `podman system service` (Debian bookworm's podman 4.3.1, rootful, cgroup v1):
    # it answers Docker's API 1.41 and names itself only among the version's components.
    info = describe(_Client(folder=RECORDED / "podman"))  # type: ignore[arg-type]
    assert info == EngineInfo("podman", "4.3.1", "1.41", "1", "cgroupfs", "6.18.44-fc-v1252")


def test_rootless_podman_on_cgroup_v1_is_refused_before_a_container_starts() -> None:
    # Recorded from a rootless `podman system service` (podman 4.3.1, an ordinary user,
    # cgroup v1): it says Rootless, and ignored a 128 MB limit (640 MB were allocated).
    info = describe(_Client(folder=RECORDED / "podman" / "rootless"))  # type: ignore[arg-type]
    assert (info.name, info.cgroup_version, info.rootless) == ("podman", "1", True)
    with pytest.raises(EngineError, match=r"gradual: podman 4\.3\.1 runs rootless on cgroup v1, where memory limits "
                                          r"are not applied.*run it rootful"):
        require_memory_limits("gradual", info)
    # Not refused on cgroup v2, where a delegated memory controller applies limits (not measured here).
    require_memory_limits("gradual", replace(info, cgroup_version="2"))
    require_memory_limits("gradual", describe(_Client(folder=RECORDED / "podman")))  # type: ignore[arg-type]


def test_describe_turns_engine_errors_into_engine_error() -> None:
    with pytest.raises(EngineError, match="did not answer: Error while fetching"):
        describe(_Client(fail=True))  # type: ignore[arg-type]


# --- container spec --------------------------------------------------------------------


def _scenario(**overrides: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "spec", "target": {"image": "labapp", "process": {"workers": 1, "threads": 4}},
        "limits": {"memory": "256m", "cpus": 0.25}, "steps": ["wait_healthy"], **overrides}
    return parse_scenario(data, "spec.yaml")


CONFIG = HarnessConfig(image="oom-harness/labapp:latest", owner="host/4242/99", user="1000")


def test_spec_resolves_the_lab_image_limits_and_labels() -> None:
    spec = container_spec(_scenario(), CONFIG, "run123")
    assert spec.image == "oom-harness/labapp:latest"
    assert spec.command == ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "1", "--worker-class", "gthread",
                            "--threads", "4", "--timeout", "120", "harness.lab.app:app"]
    assert (spec.port, spec.memory_bytes, spec.memory_swap_bytes) == (8080, 256 * MIB, 256 * MIB)
    assert spec.nano_cpus == 250_000_000
    assert spec.restart_policy is None
    assert spec.labels == {"io.oom-harness": "run", "io.oom-harness.scenario": "spec",
                           "io.oom-harness.run": "run123", "io.oom-harness.owner": "host/4242/99",
                           "io.oom-harness.user": "1000"}
    assert spec.name == "oom-harness-run123"


def test_spec_with_swap_restart_policy_and_other_image() -> None:
    scenario = _scenario(
        target={"image": "registry.local/app:1", "port": 9000, "process": {"kind": "plain", "command": ["app"]},
                "env": {"DEBUG": True}},
        limits={"memory": "256m", "memory_swap": "512m", "address_space": "1g", "pids": 64},
        restart={"policy": "on-failure", "max_retries": 2})
    spec = container_spec(scenario, CONFIG, "r")
    assert (spec.image, spec.port, spec.env) == ("registry.local/app:1", 9000, {"DEBUG": "true"})
    # The address-space limit applies to the target's process, not to the runtime's init.
    assert spec.command == ["prlimit", f"--as={1024 * MIB}", "--", "app"]
    assert (spec.memory_bytes, spec.memory_swap_bytes, spec.nano_cpus) == (256 * MIB, 512 * MIB, None)
    assert spec.restart_policy == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert spec.pids_limit == 64
    assert container_spec(_scenario(restart="always"), CONFIG, "r").restart_policy == {"Name": "always"}
    assert container_spec(_scenario(target={"process": "image"}), CONFIG, "r").command is None
    with pytest.raises(ScenarioError, match="address_space needs a process command"):
        container_spec(_scenario(target={"process": "image"}, limits={"memory": "64m", "address_space": "1g"}),
                       CONFIG, "r")


def test_the_testcontainers_container_publishes_on_loopback_only() -> None:
    spec = container_spec(_scenario(restart={"policy": "on-failure", "max_retries": 2},
                                    limits={"memory": "256m", "cpus": 0.5, "address_space": "1g", "pids": 64}),
                          CONFIG, "r")
    managed = managed_container(spec, None)  # type: ignore[arg-type]
    # With a restart policy the port is chosen here, so it stays the same across restarts.
    (address, port), = managed.ports.values()  # type: ignore[misc]
    assert list(managed.ports) == ["8080/tcp"] and address == "127.0.0.1" and 1024 <= port <= 65535
    no_restart = managed_container(container_spec(_scenario(), CONFIG, "r"), None)  # type: ignore[arg-type]
    assert no_restart.ports == {"8080/tcp": ("127.0.0.1", None)}
    kwargs = managed._kwargs
    assert (kwargs["mem_limit"], kwargs["memswap_limit"], kwargs["nano_cpus"]) == (256 * MIB, 256 * MIB, 500_000_000)
    assert kwargs["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert kwargs["labels"]["io.oom-harness.owner"] == "host/4242/99"
    assert "ulimits" not in kwargs  # see container_spec: prlimit on the command instead
    assert kwargs["pids_limit"] == 64
    assert (managed.image, managed._name) == ("oom-harness/labapp:latest", "oom-harness-r")
    plain = managed_container(container_spec(_scenario(limits={"memory": "64m"}), CONFIG, "r"), None)  # type: ignore[arg-type]
    assert not {"nano_cpus", "restart_policy", "ulimits", "pids_limit"} & set(plain._kwargs)


# --- a transport error between create and start ---------------------------------------


class _Api:
    def __init__(self) -> None:
        self.removed: list[str] = []

    def remove_container(self, container: str, v: bool = False, link: bool = False, force: bool = False) -> None:
        self.removed.append(container)


class _EngineClient:
    def __init__(self) -> None:
        self.api = _Api()
        self.containers = self


class _DropsAfterCreate:
    """A testcontainers container whose create reached the engine and whose start did not."""

    def __init__(self, created: object) -> None:
        self._container = created

    def start(self) -> None:
        import requests

        raise requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")

    def get_docker_client(self) -> object:
        class _Closer:
            class client:  # noqa: N801 - the shape testcontainers' DockerClient has
                @staticmethod
                def close() -> None:
                    pass

        return _Closer()


def test_a_transport_error_after_create_removes_the_container_and_is_an_engine_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from docker.models.containers import Container

    from harness.backends.docker import container as container_module

    client = _EngineClient()
    created = Container(attrs={"Id": "c0ffee" * 10}, client=client)  # type: ignore[arg-type]
    monkeypatch.setattr(container_module, "managed_container", lambda spec, c: _DropsAfterCreate(created))
    monkeypatch.setattr(container_module, "ensure_reaper", lambda client, config: None)
    lab = LabContainer(client, container_spec(_scenario(), CONFIG, "r"))  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="could not start a container from .*Connection aborted"):
        lab.__enter__()
    assert client.api.removed == ["c0ffee" * 10]
    assert lab.container is None


def test_podmans_missing_oom_event_is_unavailable_never_a_gap() -> None:
    from harness.backends.docker.backend import oom_event_status
    from harness.evidence import SourceStatus

    ok = SourceStatus.ok()
    status = oom_event_status(ok, "Podman 4.3.1")
    assert not status.available
    assert status.reason == ("Podman 4.3.1 has no oom event in its event stream; it reports an OOM only as "
                             "OOMKilled when the container exits")
    assert oom_event_status(ok, "Docker 20.10.24") == ok
    broken = SourceStatus.unavailable("the engine's event stream ended at 3.2 s")
    assert oom_event_status(broken, "Podman 4.3.1") == broken  # its own reason comes first


# gradual: each run's container dies once, by the harness's removal at the run's end (its
# worker kills are not container exits); pid1-oom: the four OOM exits of PID 1.
@pytest.mark.parametrize(("recording", "dies_137"), [("gradual_events.jsonl", 3), ("pid1_oom_events.jsonl", 4)])
def test_podmans_recorded_event_streams_hold_no_oom_event(recording: str, dies_137: int) -> None:
    # Podman 4.3.1's compatible event stream during `harness run gradual` (3 worker kills)
    # and `harness run pid1-oom` (4 PID-1 kills): lifecycle events only.
    from harness.collectors.engine_events import LIFECYCLE, OOM_EVENT, event_to_observation

    events = [json.loads(line) for line in (RECORDED / "podman" / recording).read_text().splitlines()]
    observations = [o for o in map(event_to_observation, events) if o is not None]
    assert not [o for o in observations if o.source == OOM_EVENT]
    assert {e["Action"] for e in events} <= {"pull", "tag", "create", "init", "start", "die", "cleanup", "remove",
                                             "restart", "kill", "stop"}
    lab_dies = [o for o, e in zip(map(event_to_observation, events), events, strict=True)
                if o is not None and o.source == LIFECYCLE and o.kind == "die"
                and "labapp" in e["Actor"]["Attributes"].get("image", "")]
    assert [o.detail["exit_code"] for o in lab_dies] == [137] * dies_137


def test_a_dead_reaper_already_being_removed_is_waited_for_not_an_error() -> None:
    # Seen in CI: removing a killed reaper answered 409 "removal ... is already in progress"
    # (the engine's auto-remove got there first); the next reaper takes the same name.
    import docker.errors
    import requests

    from harness.backends.docker.owner import removed_or_gone
    from harness.backends.docker.reaper import _wait_gone

    response = requests.Response()
    response.status_code = 409

    def conflict() -> None:
        raise docker.errors.APIError("removal of container is already in progress", response=response)

    assert removed_or_gone(conflict) is False

    class Containers:
        calls = 0

        def get(self, name: str) -> object:
            self.calls += 1
            if self.calls >= 3:
                raise docker.errors.NotFound("gone")
            return object()

    class Client:
        containers = Containers()

    _wait_gone(Client(), "testcontainers-ryuk-x")  # type: ignore[arg-type]
    assert Client.containers.calls == 3
    with pytest.raises(EngineError, match="still being removed after 0 s"):
        _wait_gone(type("Stuck", (), {"containers": type("C", (), {"get": lambda self, n: object()})()})(),  # type: ignore[arg-type]
                   "testcontainers-ryuk-y", bound_s=0.2)
