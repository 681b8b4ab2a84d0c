"""The scenario models: shapes accepted, defaults, derived values, immutability."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from harness.errors import ScenarioError
from harness.scenario import Scenario, parse_scenario
from harness.scenario.commands import process_command, target_command
from harness.scenario.model import (
    VERDICTS,
    BurstStep,
    Condition,
    GunicornProcess,
    HttpStep,
    ImageDefault,
    KillCount,
    PlainProcess,
    PollStep,
    SleepStep,
    WaitExitStep,
    WaitHealthyStep,
    WaitStep,
)
from harness.sources import source_ids

MiB = 1024**2


def scenario(**overrides: Any) -> Scenario:
    """A minimal valid scenario with some top-level keys replaced."""
    data: dict[str, Any] = {
        "target": {},
        "limits": {"memory": "256Mi"},
        "steps": ["wait_healthy"],
    }
    data.update(overrides)
    return parse_scenario(data, "test.yaml")


def one_step(step: Any) -> Any:
    return scenario(steps=[step]).steps[0]


# -- defaults -------------------------------------------------------------------------


def test_defaults() -> None:
    s = scenario()
    assert s.name == "test"
    assert s.description == ""
    assert s.repeat == 1
    assert s.sample_interval == 0.02
    assert s.settle == 1.0
    assert s.run_timeout == 120.0
    assert s.restart.policy == "no"
    assert s.restart.max_retries == 0
    assert s.expect.kills is None
    assert s.expect.sources == {}
    assert s.expect.client_errors is None
    assert s.target.image == "labapp"
    assert s.target.uses_lab_image
    assert s.target.port == 8080
    assert s.target.health_path == "/health"
    assert s.target.env == {}
    assert s.target.process == GunicornProcess()
    assert s.limits.memory == 256 * MiB
    assert s.limits.memory_swap is None
    assert s.limits.swap_limit == 256 * MiB
    assert s.limits.cpus is None
    assert s.limits.address_space is None
    assert s.limits.pids is None


def test_gunicorn_defaults() -> None:
    process = GunicornProcess()
    assert process.kind == "gunicorn"
    assert process.app == "harness.lab.app:app"
    assert process.worker_class == "gthread"
    assert (process.workers, process.threads, process.timeout) == (1, 4, 120)
    assert (process.max_requests, process.max_requests_jitter, process.extra_args) == (0, 0, [])


def test_name_argument_and_explicit_name() -> None:
    data = {"target": {}, "limits": {"memory": "1g"}, "steps": ["wait_healthy"]}
    assert parse_scenario(data, "somewhere/x.yaml").name == "x"
    assert parse_scenario(data, "somewhere/x.yaml", name="given").name == "given"
    assert parse_scenario({**data, "name": "own"}, "x.yaml", name="given").name == "own"


def test_parse_scenario_does_not_change_its_input() -> None:
    data = {"target": {}, "limits": {"memory": "1g"}, "steps": [{"sleep": "1s"}]}
    parse_scenario(data, "x.yaml")
    assert data == {"target": {}, "limits": {"memory": "1g"}, "steps": [{"sleep": "1s"}]}


# -- sizes, durations and limits --------------------------------------------------------


def test_sizes_and_durations_are_parsed() -> None:
    s = scenario(
        limits={
            "memory": "0.5Gi",
            "memory_swap": "1g",
            "address_space": "2G",
            "cpus": 0.25,
            "pids": 64,
        },
        sample_interval="10ms",
        settle="2s",
        run_timeout="5m",
    )
    assert s.limits.memory == 512 * MiB
    assert s.limits.memory_swap == 1024 * MiB
    assert s.limits.swap_limit == 1024 * MiB
    assert s.limits.address_space == 2048 * MiB
    assert s.limits.cpus == 0.25
    assert s.limits.pids == 64
    assert s.sample_interval == pytest.approx(0.01)
    assert s.settle == 2.0
    assert s.run_timeout == 300.0


def test_integer_cpus_become_float() -> None:
    cpus = scenario(limits={"memory": "1g", "cpus": 2}).limits.cpus
    assert cpus == 2.0
    assert isinstance(cpus, float)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"memory": "4m"}, "limits.memory: must be at least 6 MiB"),
        (
            {"memory": "1g", "memory_swap": "512m"},
            "memory_swap (512 MiB) must be >= memory (1 GiB)",
        ),
        ({"memory": "1g", "cpus": 0}, "limits.cpus: must be more than 0"),
        ({"memory": "1g", "cpus": 65}, "limits.cpus: must be at most 64"),
        ({"memory": "1g", "cpus": True}, "limits.cpus: expected a number, got true"),
        ({"memory": "1g", "pids": 0}, "limits.pids: must be at least 1"),
        ({"memory": "1g", "address_space": 0}, "limits.address_space: must be more than 0 bytes"),
        ({}, "limits.memory: required key is missing"),
    ],
)
def test_limit_errors(limits: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=r"^test\.yaml: ") as info:
        scenario(limits=limits)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sample_interval", "1ms", "sample_interval: must be between 0.005s and 5s, got 0.001s"),
        ("sample_interval", "6s", "sample_interval: must be between 0.005s and 5s, got 6s"),
        ("settle", "2m", "settle: must be between 0s and 60s, got 120s"),
        ("run_timeout", 0, "run_timeout: must be more than 0s and at most 3600s, got 0s"),
        ("run_timeout", "2h", "run_timeout: must be more than 0s and at most 3600s, got 7200s"),
        ("repeat", 0, "repeat: must be at least 1, got 0"),
        ("repeat", 101, "repeat: must be at most 100, got 101"),
        ("repeat", "3", 'repeat: expected a whole number, got "3"'),
        ("name", "has space", 'name: "has space" is not a usable name'),
    ],
)
def test_scenario_level_bounds(key: str, value: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(**{key: value})
    assert message in str(info.value)


# -- target and process -----------------------------------------------------------------


def test_gunicorn_command_line_defaults() -> None:
    assert process_command(GunicornProcess(), 8080) == [
        "gunicorn",
        "--bind", "0.0.0.0:8080",
        "--workers", "1",
        "--worker-class", "gthread",
        "--threads", "4",
        "--timeout", "120",
        "harness.lab.app:app",
    ]  # fmt: skip


def test_gunicorn_command_line_all_options() -> None:
    process = GunicornProcess(
        workers=2, threads=8, timeout=30, max_requests=100, max_requests_jitter=10,
        extra_args=["--log-level", "debug"], app="myapp:app",
    )  # fmt: skip
    assert process_command(process, 9000) == [
        "gunicorn",
        "--bind", "0.0.0.0:9000",
        "--workers", "2",
        "--worker-class", "gthread",
        "--threads", "8",
        "--timeout", "30",
        "--max-requests", "100",
        "--max-requests-jitter", "10",
        "--log-level", "debug",
        "myapp:app",
    ]  # fmt: skip


def test_sync_worker_command_has_no_threads() -> None:
    command = process_command(GunicornProcess(worker_class="sync"), 8080)
    assert "--threads" not in command
    assert command[command.index("--worker-class") + 1] == "sync"


def test_sync_worker_with_threads_is_an_error() -> None:
    with pytest.raises(
        ScenarioError, match=r'target\.process: threads only applies to worker_class "gthread"'
    ):
        scenario(target={"process": {"worker_class": "sync", "threads": 4}})


def test_jitter_without_max_requests_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="max_requests_jitter needs max_requests > 0"):
        scenario(target={"process": {"max_requests_jitter": 5}})


@pytest.mark.parametrize("process", [None, {}, "gunicorn", {"kind": "gunicorn"}, {"workers": 1}])
def test_process_short_forms_mean_gunicorn(process: Any) -> None:
    target: dict[str, Any] = {} if process is None else {"process": process}
    assert scenario(target=target).target.process == GunicornProcess()


def test_gunicorn_without_kind_keeps_its_options() -> None:
    process = scenario(target={"process": {"workers": 2, "worker_class": "sync"}}).target.process
    assert isinstance(process, GunicornProcess)
    assert (process.workers, process.worker_class) == (2, "sync")


def test_plain_process() -> None:
    target = scenario(
        target={
            "image": "python:3.11-slim",
            "process": {"kind": "plain", "command": ["python", "-m", "x"]},
        }
    ).target
    assert isinstance(target.process, PlainProcess)
    assert target_command(target) == ["python", "-m", "x"]
    assert process_command(target.process, 1234) == ["python", "-m", "x"]
    assert not target.uses_lab_image


def test_plain_process_needs_a_command() -> None:
    with pytest.raises(ScenarioError, match=r"target\.process\.command: must have at least 1 item"):
        scenario(target={"process": {"kind": "plain", "command": []}})
    with pytest.raises(ScenarioError, match=r"target\.process\.command: required key is missing"):
        scenario(target={"process": {"kind": "plain"}})


def test_image_default_process() -> None:
    target = scenario(target={"process": "image"}).target
    assert isinstance(target.process, ImageDefault)
    assert target_command(target) is None


def test_unknown_process_kind() -> None:
    with pytest.raises(
        ScenarioError,
        match=r'target\.process: unknown process kind "waitress" .*gunicorn, uwsgi, uvicorn, plain, image',
    ):
        scenario(target={"process": {"kind": "waitress"}})


def test_gunicorn_field_error_path_has_no_kind_tag() -> None:
    with pytest.raises(
        ScenarioError, match=r"^test.yaml: target\.process\.workers: must be at least 1, got 0$"
    ):
        scenario(target={"process": {"workers": 0}})


def test_env_values_become_strings() -> None:
    env = scenario(target={"env": {"A": 1, "B": True, "C": 0.5, "D": "x", "E": False}}).target.env
    assert env == {"A": "1", "B": "true", "C": "0.5", "D": "x", "E": "false"}


def test_env_rejects_null_and_nested_values() -> None:
    with pytest.raises(
        ScenarioError, match=r"target\.env: A: value must be a string or number, got null"
    ):
        scenario(target={"env": {"A": None}})
    with pytest.raises(ScenarioError, match=r"target\.env: .*must be a string or number"):
        scenario(target={"env": {"A": [1]}})


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"port": 0}, "target.port: must be at least 1, got 0"),
        ({"port": 70000}, "target.port: must be at most 65535, got 70000"),
        ({"health_path": "health"}, 'target.health_path: "health" must start with "/"'),
        ({"image": ""}, "target.image: must not be empty"),
    ],
)
def test_target_errors(target: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(target=target)
    assert message in str(info.value)


# -- restart policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "policy"),
    [
        ({"policy": False}, "no"),  # YAML's unquoted `no`
        ({"policy": "no"}, "no"),
        (False, "no"),
        ("always", "always"),
        ({"policy": "unless-stopped"}, "unless-stopped"),
    ],
)
def test_restart_policy_forms(restart: Any, policy: str) -> None:
    assert scenario(restart=restart).restart.policy == policy


def test_on_failure_with_retries() -> None:
    restart = scenario(restart={"policy": "on-failure", "max_retries": 3}).restart
    assert (restart.policy, restart.max_retries) == ("on-failure", 3)


def test_max_retries_with_another_policy_is_an_error() -> None:
    with pytest.raises(
        ScenarioError,
        match='restart: max_retries only applies to policy "on-failure" \\(policy is "always"\\)',
    ):
        scenario(restart={"policy": "always", "max_retries": 2})


def test_unknown_restart_policy() -> None:
    with pytest.raises(
        ScenarioError,
        match=re.escape(
            'restart.policy: "sometimes" is not one of: no, on-failure, always, unless-stopped'
        ),
    ):
        scenario(restart={"policy": "sometimes"})


# -- steps --------------------------------------------------------------------------------


def test_wait_healthy_forms() -> None:
    assert one_step("wait_healthy") == WaitHealthyStep()
    assert one_step({"wait_healthy": None}) == WaitHealthyStep()
    assert one_step({"wait_healthy": {}}) == WaitHealthyStep()
    assert one_step({"wait_healthy": "10s"}) == WaitHealthyStep(timeout=10)
    step = one_step({"wait_healthy": {"timeout": "1m", "interval": "100ms"}})
    assert (step.kind, step.timeout, step.interval) == ("wait_healthy", 60.0, 0.1)
    assert (WaitHealthyStep().timeout, WaitHealthyStep().interval) == (30.0, 0.2)


def test_http_step() -> None:
    step = one_step(
        {
            "http": {
                "name": "start",
                "method": "post",
                "path": "/start",
                "json": {"chunk_mb": 16},
                "timeout": "5s",
                "expect_status": 202,
            }
        }
    )
    assert isinstance(step, HttpStep)
    assert step.kind == "http"
    assert step.name == "start"
    assert step.method == "POST"
    assert step.path == "/start"
    assert step.body == {"chunk_mb": 16}
    assert step.timeout == 5.0
    assert step.expect_status == 202


def test_http_step_defaults() -> None:
    step = one_step({"http": {"path": "/memory"}})
    assert (step.name, step.method, step.body, step.timeout, step.expect_status) == (
        None,
        "GET",
        None,
        30.0,
        None,
    )


def test_http_step_json_may_be_a_list() -> None:
    assert one_step({"http": {"path": "/x", "json": [1, 2]}}).body == [1, 2]


def test_poll_step() -> None:
    step = one_step(
        {"poll": {"path": "/memory", "every": "500ms", "timeout": "60s", "until": {"kills": 1}}}
    )
    assert isinstance(step, PollStep)
    assert (step.kind, step.method, step.path, step.every, step.timeout) == (
        "poll",
        "GET",
        "/memory",
        0.5,
        60.0,
    )
    assert step.until == Condition(kills=1)


def test_poll_step_every_defaults_to_half_a_second() -> None:
    assert one_step({"poll": {"path": "/", "timeout": 5, "until": {"status": 200}}}).every == 0.5


def test_wait_step() -> None:
    step = one_step({"wait": {"until": {"kills": 2, "exited": True}, "timeout": "30s"}})
    assert isinstance(step, WaitStep)
    assert (step.kind, step.timeout, step.every) == ("wait", 30.0, 0.1)
    assert (step.until.kills, step.until.exited) == (2, True)


def test_sleep_step() -> None:
    step = one_step({"sleep": "2s"})
    assert step == SleepStep(duration=2.0)
    assert step.kind == "sleep"
    assert one_step({"sleep": 0}).duration == 0.0
    assert one_step({"sleep": {"duration": "1m"}}).duration == 60.0


def test_burst_step() -> None:
    step = one_step(
        {
            "burst": {
                "name": "load",
                "method": "put",
                "path": "/x",
                "json": {"a": 1},
                "count": 100,
                "concurrency": 8,
            }
        }
    )
    assert isinstance(step, BurstStep)
    assert (step.kind, step.name, step.method, step.path, step.body) == (
        "burst",
        "load",
        "PUT",
        "/x",
        {"a": 1},
    )
    assert (step.count, step.concurrency, step.timeout, step.total_timeout) == (100, 8, 30.0, 300.0)


def test_wait_exit_step() -> None:
    assert one_step({"wait_exit": {"timeout": "2m"}}) == WaitExitStep(timeout=120)
    assert one_step({"wait_exit": "2m"}).kind == "wait_exit"


def test_flat_step_form() -> None:
    assert one_step({"kind": "sleep", "duration": 1}) == SleepStep(duration=1)


def test_step_instances_pass_through() -> None:
    assert scenario(steps=[SleepStep(duration=1)]).steps == [SleepStep(duration=1)]


def test_every_kind_in_one_scenario() -> None:
    kinds = [
        step.kind
        for step in scenario(
            steps=[
                "wait_healthy",
                {"http": {"path": "/"}},
                {"poll": {"path": "/", "timeout": 1, "until": {"status": 200}}},
                {"wait": {"until": {"kills": 1}, "timeout": 1}},
                {"sleep": 1},
                {"burst": {"path": "/", "count": 1, "concurrency": 1}},
                {"wait_exit": {"timeout": 1}},
            ]
        ).steps
    ]
    assert kinds == ["wait_healthy", "http", "poll", "wait", "sleep", "burst", "wait_exit"]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"http": {"path": "/", "timeout": "soon"}},
            'steps[0].http.timeout: "soon" is not a duration',
        ),
        ({"http": {"path": "/", "timeout": 0}}, "steps[0].http.timeout: must be more than 0s"),
        (
            {"http": {"path": "/", "method": "fetch"}},
            'steps[0].http.method: "FETCH" is not one of: GET, POST, PUT, DELETE, PATCH',
        ),
        ({"http": {"path": "start"}}, 'steps[0].http.path: "start" must start with "/"'),
        ({"http": {}}, "steps[0].http.path: required key is missing"),
        (
            {"http": {"path": "/", "json": 3}},
            "steps[0].http.json: must be a JSON object or array, got 3",
        ),
        (
            {"http": {"path": "/", "expect_status": 42}},
            "steps[0].http.expect_status: must be at least 100, got 42",
        ),
        (
            {"http": {"path": "/", "tiemout": 1}},
            'steps[0].http: unknown key "tiemout" '
            "(expected one of: name, method, path, json, timeout, expect_status)",
        ),
        ({"http": {"kind": "poll", "path": "/"}}, 'steps[0]: "kind" is not an option'),
        ({"http": "x"}, 'steps[0]: the options of "http" must be a mapping, got "x"'),
        (
            {"poll": {"path": "/", "until": {"kills": 1}}},
            "steps[0].poll.timeout: required key is missing",
        ),
        (
            {"poll": {"path": "/", "timeout": "2h", "until": {"kills": 1}}},
            "steps[0].poll.timeout: must be more than 0s and at most 3600s, got 7200s",
        ),
        ({"wait": {"until": {"kills": 1}}}, "steps[0].wait.timeout: required key is missing"),
        (
            {"wait": {"until": {"status": 200}, "timeout": 1}},
            "steps[0].wait.until: json_field and status need an HTTP response",
        ),
        ({"sleep": "-1s"}, 'steps[0].sleep: "-1s" is not a duration: durations cannot be negative'),
        (
            {"burst": {"path": "/", "count": 0, "concurrency": 1}},
            "steps[0].burst.count: must be at least 1, got 0",
        ),
        (
            {"burst": {"path": "/", "count": 1, "concurrency": 300}},
            "steps[0].burst.concurrency: must be at most 256, got 300",
        ),
        ({"wait_exit": None}, "steps[0].wait_exit.timeout: required key is missing"),
        (
            "htp",
            'steps[0]: unknown step kind "htp" '
            "(expected one of: wait_healthy, http, poll, wait, sleep, burst, wait_exit, snapshot)",
        ),
        ({"htp": {}}, 'steps[0]: unknown step kind "htp"'),
        ({"kind": "nope"}, 'steps[0]: unknown step kind "nope"'),
        (
            {"sleep": "1s", "http": {"path": "/"}},
            "steps[0]: a step must have exactly one key, its kind "
            '(e.g. `- sleep: 2s` or `- http: {path: /start}`), but has 2: "sleep", "http"',
        ),
        (
            {"http": None, "path": "/x"},
            'but has 2: "http", "path" (indent the options under "http:")',
        ),
        ({}, "steps[0]: a step cannot be an empty mapping"),
        (5, "steps[0]: a step must be a mapping"),
    ],
)
def test_step_errors_name_index_kind_and_key(step: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(steps=[step])
    assert str(info.value).startswith("test.yaml: ")
    assert message in str(info.value)


def test_step_error_uses_the_right_index() -> None:
    steps = ["wait_healthy", {"sleep": 1}, {"http": {"path": "/", "timeout": "x"}}]
    with pytest.raises(ScenarioError, match=r"steps\[2\]\.http\.timeout"):
        scenario(steps=steps)


def test_empty_steps() -> None:
    with pytest.raises(ScenarioError, match=r"^test.yaml: steps: must have at least 1 item"):
        scenario(steps=[])


# -- conditions ---------------------------------------------------------------------------


def test_condition_fields() -> None:
    changed = Condition(json_field="pid", changed=True)
    assert changed.uses_response and changed.describe() == "pid changed"
    equals = Condition(json_field="state", equals="done", status=200)
    assert equals.describe() == 'state == "done" and status == 200'
    assert Condition(kills=1, exited=True).describe() == "kills >= 1 and exited"
    assert not Condition(kills=1).uses_response


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ({}, "a condition needs at least one of: kills, json_field, status, exited"),
        ({"kills": 0}, "until.kills: must be at least 1, got 0"),
        ({"changed": True}, "changed needs json_field"),
        ({"json_field": "pid"}, "json_field needs exactly one of: changed, equals"),
        (
            {"json_field": "pid", "changed": True, "equals": 1},
            "json_field needs exactly one of: changed, equals",
        ),
        (
            {"kils": 1},
            'until: unknown key "kils" '
            "(expected one of: kills, json_field, changed, equals, status, exited)",
        ),
    ],
)
def test_condition_errors(until: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(steps=[{"poll": {"path": "/", "timeout": 1, "until": until}}])
    assert message in str(info.value)


# -- expectations -------------------------------------------------------------------------


def test_kill_count_forms() -> None:
    expect = scenario(expect={"kills": 2, "client_errors": {"min": 1, "max": 3}}).expect
    assert expect.kills == KillCount(min=2, max=2)
    assert expect.client_errors == KillCount(min=1, max=3)
    assert scenario(expect={"kills": {"max": 0}}).expect.kills == KillCount(min=0, max=0)


def test_kill_count_matches_and_describe() -> None:
    at_least = KillCount(min=1)
    assert at_least.matches(1) and at_least.matches(50) and not at_least.matches(0)
    assert at_least.describe() == "at least 1"
    assert KillCount(min=2, max=2).describe() == "exactly 2"
    between = KillCount(min=1, max=3)
    assert between.describe() == "1 to 3"
    assert between.matches(3) and not between.matches(4)


@pytest.mark.parametrize(
    ("kills", "message"),
    [
        ({"min": 3, "max": 1}, "expect.kills: max (1) must be >= min (3)"),
        ({}, "expect.kills: give min, max or both"),
        (True, "expect.kills: expected a count or {min, max}, got true"),
        (-1, "expect.kills.min: must be at least 0, got -1"),
        ({"least": 1}, 'expect.kills: unknown key "least" (expected one of: min, max)'),
    ],
)
def test_kill_count_errors(kills: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(expect={"kills": kills})
    assert message in str(info.value)


def test_sources_become_lists_of_verdicts() -> None:
    expect = scenario(
        expect={"sources": {"cgroup": "visible", "client": ["gap", "partial", "gap"]}}
    ).expect
    assert expect.sources == {"cgroup": ["visible"], "client": ["gap", "partial"]}
    assert expect.allowed_verdicts("client") == ("gap", "partial")
    assert expect.allowed_verdicts("kernel_log") == ()


def test_every_source_id_and_verdict_is_accepted() -> None:
    sources = {source: list(VERDICTS) for source in source_ids()}
    assert scenario(expect={"sources": sources}).expect.sources == sources


def test_source_and_verdict_tuples() -> None:
    assert source_ids() == (
        "cgroup", "kernel_log", "engine_oom_event", "engine_state", "lifecycle_events",
        "restart_count", "console_logs", "metric_1m_avg", "metric_highres", "client",
        "health_probe",
    )  # fmt: skip
    assert VERDICTS == ("visible", "partial", "gap", "misleading", "unavailable", "none")


def test_unknown_source_lists_the_valid_ones() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario(expect={"sources": {"cgroupp": "visible"}})
    assert str(info.value) == (
        'test.yaml: expect.sources: unknown source "cgroupp" (expected one of: '
        + ", ".join(source_ids())
        + ")"
    )


def test_unknown_verdict() -> None:
    with pytest.raises(
        ScenarioError,
        match=re.escape(
            'expect.sources: client: "visble" is not a verdict '
            "(expected one of: visible, partial, gap, misleading, unavailable, none)"
        ),
    ):
        scenario(expect={"sources": {"client": ["visble"]}})


# -- immutability and round trip ------------------------------------------------------------


def test_models_are_frozen() -> None:
    s = scenario(steps=[{"http": {"path": "/"}}])
    with pytest.raises(ValidationError):
        s.repeat = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.limits.memory = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.steps[0].path = "/other"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        s.target.process.workers = 2  # type: ignore[union-attr]


def test_model_dump_reads_back_unchanged() -> None:
    s = scenario(
        target={"env": {"A": 1}, "process": {"kind": "plain", "command": ["sleep", "1"]}},
        restart="on-failure",
        steps=[
            "wait_healthy",
            {"http": {"path": "/", "json": {"a": 1}}},
            {"poll": {"path": "/", "timeout": 1, "until": {"json_field": "pid", "changed": True}}},
            {"sleep": "1s"},
        ],
        expect={"kills": 1, "sources": {"cgroup": "visible"}},
    )
    dumped = s.model_dump(mode="json", by_alias=True)
    assert parse_scenario(dumped, "dump") == s
