"""The uWSGI and uvicorn process kinds, a scenario's own kill-line patterns, and the
shipped files of issue 14 (server variants of gradual, the worker timeout, the lab's advice)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import ScenarioError
from harness.scenario import Scenario, load_scenario, parse_scenario
from harness.scenario.catalog import SHIPPED_DIR
from harness.scenario.commands import process_command
from harness.scenario.model import GunicornProcess, UvicornProcess, UwsgiProcess


def scenario(target: dict[str, Any], **overrides: Any) -> Scenario:
    data: dict[str, Any] = {"target": target, "limits": {"memory": "256Mi"}, "steps": ["wait_healthy"], **overrides}
    return parse_scenario(data, "test.yaml")


def shipped(name: str) -> Scenario:
    return load_scenario(SHIPPED_DIR / f"{name}.yaml")


# -- process kinds ----------------------------------------------------------------------


def test_uwsgi_defaults_and_command() -> None:
    process = scenario({"process": "uwsgi"}).target.process
    assert isinstance(process, UwsgiProcess)
    assert (process.workers, process.threads, process.harakiri, process.max_requests) == (2, 1, 0, 0)
    assert process_command(process, 8080) == [
        "uwsgi", "--master", "--processes", "2", "--http-socket", "0.0.0.0:8080", "--module",
        "harness.lab.app:app", "--enable-threads", "--single-interpreter", "--die-on-term", "--need-app",
        "--disable-logging",
    ]  # fmt: skip


def test_uwsgi_options() -> None:
    process = UwsgiProcess(workers=4, threads=2, harakiri=30, max_requests=100, extra_args=["--thunder-lock"],
                           app="my.wsgi:application")
    argv = process_command(process, 9000)
    assert argv[:6] == ["uwsgi", "--master", "--processes", "4", "--threads", "2"]
    assert argv[argv.index("--module") + 1] == "my.wsgi:application"
    assert argv[-5:] == ["--harakiri", "30", "--max-requests", "100", "--thunder-lock"]
    assert "0.0.0.0:9000" in argv


def test_uvicorn_defaults_and_command() -> None:
    process = scenario({"process": {"kind": "uvicorn"}}).target.process
    assert isinstance(process, UvicornProcess)
    assert process_command(process, 8080) == [
        "uvicorn", "--host", "0.0.0.0", "--port", "8080", "--workers", "2", "--interface", "wsgi",
        "--no-access-log", "harness.lab.app:app",
    ]  # fmt: skip


def test_uvicorn_for_an_asgi_app_with_its_access_log() -> None:
    process = UvicornProcess(app="app:app", workers=3, interface="auto", access_log=True, extra_args=["--http", "h11"])
    assert process_command(process, 8000) == ["uvicorn", "--host", "0.0.0.0", "--port", "8000", "--workers", "3",
                                     "--interface", "auto", "--http", "h11", "app:app"]


@pytest.mark.parametrize(("process", "message"), [
    ({"kind": "uvicorn", "interface": "rsgi"}, r"target\.process\.interface: \"rsgi\" is not one of: auto, asgi3"),
    ({"kind": "uwsgi", "workers": 0}, r"target\.process\.workers: must be at least 1, got 0"),
    ({"kind": "uwsgi", "worker_class": "sync"}, r'target\.process: unknown key "worker_class"'),
])
def test_bad_server_options_name_the_field(process: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario({"process": process})


# -- kill_log_patterns ------------------------------------------------------------------


def test_kill_log_patterns_default_to_none_and_keep_their_text() -> None:
    assert scenario({}).target.kill_log_patterns == []
    target = scenario({"kill_log_patterns": [r"worker (?P<pid>\d+) gone", "status 137"]}).target
    assert target.kill_log_patterns == [r"worker (?P<pid>\d+) gone", "status 137"]


@pytest.mark.parametrize(("pattern", "problem"), [
    ("worker (gone", r'"worker \(gone" is not a regular expression: missing \), unterminated subpattern'),
    ("(?P<victim>\\d+) died", r'"\(\?P<victim>\\d\+\) died": the only named group a kill pattern may have is '
                               r'\(\?P<pid>\.\.\.\), not "victim"'),
    ("x*", r'"x\*" matches an empty line, so it would count every line as a kill'),
    (137, r"expected text, got 137"),
])
def test_a_bad_kill_log_pattern_names_the_file_and_the_field(tmp_path: Path, pattern: object, problem: str) -> None:
    path = tmp_path / "own.yaml"
    quoted = f"'{pattern}'" if isinstance(pattern, str) else str(pattern)
    path.write_text("target:\n  image: my-app:latest\n  process: image\n"
                    f"  kill_log_patterns:\n    - 'server exited'\n    - {quoted}\n"
                    "limits: {memory: 256Mi}\nsteps: [wait_healthy]\n")
    with pytest.raises(ScenarioError, match=rf"^{path}: target\.kill_log_patterns\[1\]: {problem}"):
        load_scenario(path)


def test_kill_log_patterns_must_be_a_list() -> None:
    with pytest.raises(ScenarioError, match=r"target\.kill_log_patterns: expected a list"):
        scenario({"kill_log_patterns": "status 137"})


# -- the shipped files ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [("gradual-uwsgi", "uwsgi"), ("gradual-uvicorn", "uvicorn")])
def test_the_server_variants_of_gradual_change_only_the_process(name: str, kind: str) -> None:
    gradual, variant = shipped("gradual").model_dump(mode="json"), shipped(name).model_dump(mode="json")
    assert variant["target"]["process"]["kind"] == kind and variant["target"]["process"]["workers"] == 2
    for key in ("limits", "steps", "restart"):
        assert variant[key] == gradual[key]
    assert variant["target"]["kill_log_patterns"] == []  # the defaults know each server
    assert variant["expect"]["sources"]["console_logs"] == ["visible"]
    assert variant["repeat"] == 1
    assert variant["settle"] >= gradual["settle"]  # a server whose kill line is slow may wait longer for it


def test_worker_timeout_expects_a_misleading_console_and_no_kill() -> None:
    s = shipped("worker-timeout")
    process = s.target.process
    assert isinstance(process, GunicornProcess) and process.worker_class == "sync" and process.timeout == 3
    assert s.expect.kills is not None and (s.expect.kills.min, s.expect.kills.max) == (0, 0)
    assert s.expect.allowed_verdicts("console_logs") == ("misleading",)
    assert s.expect.allowed_verdicts("cgroup") == ("none",)


def test_the_max_requests_pair_differs_in_recycling_only() -> None:
    leak, fixed = shipped("leak-per-request").model_dump(mode="json"), shipped("leak-per-request-max-requests")
    assert isinstance(fixed.target.process, GunicornProcess)
    assert (fixed.target.process.max_requests, fixed.target.process.max_requests_jitter) == (10, 5)
    again = fixed.model_dump(mode="json")
    again["target"]["process"].update(max_requests=0, max_requests_jitter=0)
    for key in ("target", "limits", "steps"):
        assert again[key] == leak[key]


def test_the_headroom_pair_differs_in_the_limit_only() -> None:
    leak = shipped("leak-per-request").model_dump(mode="json")
    roomy = shipped("leak-per-request-1gi").model_dump(mode="json")
    assert (leak["limits"]["memory"], roomy["limits"]["memory"]) == (512 * 2**20, 2**30)
    roomy["limits"]["memory"] = leak["limits"]["memory"]
    for key in ("target", "limits", "steps"):
        assert roomy[key] == leak[key]
