"""Choosing the engine: ``--engine podman`` points at the harness's Podman service, refuses
an engine of the other kind, and the service gets limits runc may set."""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Any

import pytest

from harness.backends.docker import engine, podman
from harness.cli import build_parser
from harness.config import HarnessConfig
from harness.errors import EngineError, UsageError

RECORDED = Path(__file__).parents[1] / "data" / "recorded"


@pytest.fixture(autouse=True)
def _own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the harness writes into the environment stays in the test."""
    monkeypatch.setattr(engine.os, "environ", {k: v for k, v in engine.os.environ.items()
                                               if k not in ("DOCKER_HOST", "OOM_HARNESS_ENGINE")})


def _config(engine_name: str, tmp_path: Path) -> HarnessConfig:
    return HarnessConfig(engine=engine_name, podman_socket=tmp_path / "podman.sock", owner="h/1/1", user="0")


def test_podman_is_reached_at_the_harness_socket(tmp_path: Path) -> None:
    engine.use_engine(_config("podman", tmp_path))
    assert engine.os.environ["DOCKER_HOST"] == f"unix://{tmp_path}/podman.sock"
    # Processes the harness starts (sweep variants, fault trials) inherit the choice.
    assert engine.os.environ["OOM_HARNESS_ENGINE"] == "podman"


def test_a_docker_host_the_user_set_is_kept(tmp_path: Path) -> None:
    engine.os.environ.__setitem__("DOCKER_HOST", "unix:///run/user/1000/podman/podman.sock")
    engine.use_engine(_config("podman", tmp_path))
    assert engine.os.environ["DOCKER_HOST"] == "unix:///run/user/1000/podman/podman.sock"


def test_no_choice_changes_nothing(tmp_path: Path) -> None:
    engine.use_engine(_config("", tmp_path))
    assert "DOCKER_HOST" not in engine.os.environ


def test_an_unknown_engine_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="engine 'containerd' .*OOM_HARNESS_ENGINE.*docker, podman"):
        engine.use_engine(_config("containerd", tmp_path))


class _Client:
    """Answers ``version()`` as the recorded engine did."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.closed = False

    def version(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "engine_version.json").read_text())
        return data

    def close(self) -> None:
        self.closed = True


def test_docker_answering_where_podman_was_chosen_is_refused(tmp_path: Path) -> None:
    client = _Client(RECORDED)
    with pytest.raises(EngineError, match="--engine podman, but .* answers as docker"):
        engine._check_kind(client, _config("podman", tmp_path))  # type: ignore[arg-type]
    assert client.closed


def test_podman_answering_where_podman_was_chosen_passes(tmp_path: Path) -> None:
    engine._check_kind(_Client(RECORDED / "podman"), _config("podman", tmp_path))  # type: ignore[arg-type]


def test_the_service_gets_the_limits_of_the_process_that_starts_it() -> None:
    conf = podman.containers_conf({"nofile": (20000, 20000), "nproc": (32768, 96555)})
    assert conf == '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:96555"]\n'


def test_an_unlimited_limit_is_left_to_podman() -> None:
    conf = podman.containers_conf({"nofile": (1024, 4096), "nproc": (resource.RLIM_INFINITY, resource.RLIM_INFINITY)})
    assert conf == '[containers]\ndefault_ulimits = ["nofile=1024:4096"]\n'


def test_the_harness_starts_only_its_own_service(tmp_path: Path) -> None:
    config = _config("podman", tmp_path)
    engine.os.environ.__setitem__("DOCKER_HOST", "unix:///run/user/1000/podman/podman.sock")
    assert not podman.may_start(config)
    engine.os.environ.__setitem__("DOCKER_HOST", podman.socket_url(config))
    assert podman.may_start(config) == (engine.os.geteuid() == 0 and Path("/etc/debian_version").exists())


@pytest.mark.parametrize("command", [
    "setup", "run gradual", "engine start", "sweep gradual", "right-size gradual", "compare a b",
    "clean", "image build",
])
def test_every_command_that_reaches_an_engine_takes_engine(command: str) -> None:
    assert build_parser().parse_args([*command.split(), "--engine", "podman"]).engine == "podman"


def test_podman_in_the_guest_is_refused_where_only_docker_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["sweep", "gradual", "--set", "limits.memory=256Mi", "--engine", "podman", "--vm"]) == 2
    assert "only `harness run --vm` takes --engine podman" in capsys.readouterr().err


def test_nproc_is_held_to_the_kernels_pid_max(tmp_path: Path) -> None:
    # Measured: the harness had nproc 96555, the Podman service it started ran with 32768
    # (pid_max), and a build asking for 96555 failed ("error setting rlimit type 6").
    pid_max = tmp_path / "pid_max"
    pid_max.write_text("32768\n")
    limits = podman.own_limits(pid_max)
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    assert limits["nproc"] == (min(soft, 32768) if soft != resource.RLIM_INFINITY else 32768,
                               min(hard, 32768) if hard != resource.RLIM_INFINITY else 32768)
    assert limits["nofile"] == resource.getrlimit(resource.RLIMIT_NOFILE)


def test_the_offline_base_is_imported_with_its_tag_in_the_repository() -> None:
    # Podman's compat import ignores a separate tag (podman#18597): the tag rides in `repo`.
    from harness.backends.docker.image import _with_tag

    assert _with_tag("oom-harness/base:bookworm-py311") == "oom-harness/base:bookworm-py311"
    assert _with_tag("oom-harness/base") == "oom-harness/base:latest"
    assert _with_tag("registry:5000/base") == "registry:5000/base:latest"
