"""Loading scenario files: the shipped ones, --repeat, and one readable error per bad file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import HarnessError, ScenarioError
from harness.scenario import load_scenario, parse_scenario
from harness.scenario.model import GunicornProcess, HttpStep, PollStep, WaitStep

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
MiB = 1024**2

VALID = """\
target: {}
limits: {memory: 256Mi}
steps:
  - wait_healthy
"""


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "Traceback" not in message and "pydantic" not in message
    return message


# -- the shipped scenarios ---------------------------------------------------------------


def assert_reference_setup(path: Path) -> None:
    s = load_scenario(path)
    assert s.name == path.stem
    assert s.description
    assert s.target.uses_lab_image
    assert s.target.process == GunicornProcess(
        worker_class="gthread", workers=1, threads=4, timeout=120
    )
    assert s.limits.memory == 512 * MiB
    assert s.limits.cpus == 0.25
    assert s.limits.memory_swap is None
    assert s.restart.policy == "no"
    assert s.expect.kills is not None and (s.expect.kills.min, s.expect.kills.max) == (1, None)


def test_gradual_scenario() -> None:
    path = SCENARIOS / "gradual.yaml"
    assert_reference_setup(path)
    s = load_scenario(path)
    assert s.repeat == 3
    assert [step.kind for step in s.steps] == [
        "wait_healthy",
        "http",
        "poll",
        "wait_healthy",
        "sleep",
    ]
    start, poll, healthy, sleep = s.steps[1], s.steps[2], s.steps[3], s.steps[4]
    assert isinstance(start, HttpStep)
    assert (start.method, start.path, start.expect_status) == ("POST", "/start", 202)
    assert start.body == {"chunk_mb": 16, "pause_seconds": 0.5, "target_mb": 600}
    assert isinstance(poll, PollStep)
    assert (poll.method, poll.path, poll.every, poll.timeout) == ("GET", "/memory", 2.0, 60.0)
    assert poll.until.kills == 1
    assert healthy.timeout == 30.0  # type: ignore[union-attr]
    assert sleep.duration == 2.0  # type: ignore[union-attr]
    assert s.expect.sources == {
        "cgroup": ["visible"],
        "console_logs": ["visible"],
        "lifecycle_events": ["gap"],
        "restart_count": ["gap"],
        "engine_state": ["gap"],
        "client": ["gap"],
        "health_probe": ["gap"],
    }
    assert s.expect.client_errors is None


def test_spike_scenario() -> None:
    path = SCENARIOS / "spike.yaml"
    assert_reference_setup(path)
    s = load_scenario(path)
    assert s.repeat == 2
    assert [step.kind for step in s.steps] == [
        "wait_healthy",
        "http",
        "wait",
        "wait_healthy",
        "sleep",
    ]
    spike, wait, healthy, sleep = s.steps[1], s.steps[2], s.steps[3], s.steps[4]
    assert isinstance(spike, HttpStep)
    assert (spike.name, spike.method, spike.path, spike.timeout) == (
        "spike",
        "POST",
        "/spike",
        30.0,
    )
    assert spike.body == {"mb": 500}
    assert isinstance(wait, WaitStep)
    assert (wait.until.kills, wait.timeout) == (1, 30.0)
    assert healthy.timeout == 30.0  # type: ignore[union-attr]
    assert sleep.duration == 2.0  # type: ignore[union-attr]
    assert s.expect.sources == {
        "cgroup": ["visible"],
        "console_logs": ["visible"],
        "lifecycle_events": ["gap"],
        "restart_count": ["gap"],
        "client": ["visible"],
    }
    assert s.expect.client_errors is not None
    assert (s.expect.client_errors.min, s.expect.client_errors.max) == (1, None)


@pytest.mark.parametrize("name", ["gradual.yaml", "spike.yaml"])
def test_repeat_override(name: str) -> None:
    assert load_scenario(SCENARIOS / name, repeat=7).repeat == 7
    assert load_scenario(str(SCENARIOS / name), repeat=1).repeat == 1


def test_repeat_override_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    with pytest.raises(ScenarioError, match=r"repeat: must be at most 100, got 500"):
        load_scenario(path, repeat=500)
    with pytest.raises(ScenarioError, match=r"repeat: must be at least 1, got 0"):
        load_scenario(path, repeat=0)


# -- loading -------------------------------------------------------------------------------


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, VALID, "my-case.yaml")).name == "my-case"
    assert load_scenario(write(tmp_path, "name: other\n" + VALID, "file.yaml")).name == "other"


def test_yaml_no_is_the_no_policy(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "restart:\n  policy: no\n")
    assert load_scenario(path).restart.policy == "no"


def test_scenario_error_is_a_harness_error() -> None:
    assert issubclass(ScenarioError, HarnessError)


def test_parse_scenario_rejects_non_mapping() -> None:
    with pytest.raises(ScenarioError, match=r"^built: the top level must be a mapping"):
        parse_scenario(["a"], "built")  # type: ignore[arg-type]


# -- file-level errors --------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert load_error(path) == f"{path}: no such scenario file"


def test_directory(tmp_path: Path) -> None:
    assert load_error(tmp_path) == f"{tmp_path}: is a directory, not a scenario file"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, VALID)

    def refuse(self: Path, encoding: str | None = None) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", refuse)
    assert load_error(path) == f"{path}: cannot read: Permission denied"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    assert load_error(path) == f"{path}: is not UTF-8 text"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "target: {}\nlimits:\n  memory: 512Mi\n  cpus: [1\nsteps: []\n")
    message = load_error(path)
    assert re.match(rf"^{re.escape(str(path))}: invalid YAML at line \d+, column \d+: ", message)
    line = int(re.search(r"line (\d+)", message).group(1))  # type: ignore[union-attr]
    assert line in (4, 5)


def test_yaml_bad_indentation_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "target: {}\n limits: 1\nsteps: []\n")
    assert re.search(r"invalid YAML at line 2, column \d+", load_error(path))


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "limits: {memory: 1g}\n")
    assert load_error(path) == f'{path}: invalid YAML at line 5, column 1: duplicate key "limits"'


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  - http: {<<: {path: /x, timeout: 5s}, timeout: 1s}\n")
    step = load_scenario(path).steps[1]
    assert isinstance(step, HttpStep)
    assert (step.path, step.timeout) == ("/x", 1.0)


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing here\n")
    assert (
        load_error(path) == f"{path}: is empty (expected a mapping with target, limits and steps)"
    )


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("just text\n", '"just text"')]
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == (
        f"{path}: the top level must be a mapping of keys (target, limits, steps, ...), got {got}"
    )


# -- field errors, as the user sees them --------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "targt: {}\n")
    assert load_error(path) == (
        f'{path}: unknown key "targt" (expected one of: name, description, target, limits, '
        "restart, repeat, sample_interval, settle, run_timeout, ingress, monitoring, steps, expect)"
    )


def test_unknown_nested_key(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("target: {}", "target: {prot: 80}"))
    assert load_error(path) == (
        f'{path}: target: unknown key "prot" '
        "(expected one of: image, port, health_path, process, env, kill_log_patterns)"
    )


def test_unknown_key_in_process(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("target: {}", "target: {process: {worker: 2}}"))
    message = load_error(path)
    assert message.startswith(
        f'{path}: target.process: unknown key "worker" (expected one of: kind, app, '
    )


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("target: {}", "target: {port: eighty}"))
    assert load_error(path) == f'{path}: target.port: expected a whole number, got "eighty"'


def test_wrong_type_for_a_section(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("target: {}", "target: [1]"))
    assert load_error(path) == f"{path}: target: expected a mapping, got [1]"


def test_bad_size(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("256Mi", "12xb"))
    assert (
        load_error(path)
        == f'{path}: limits.memory: "12xb" is not a size (use 512Mi, 0.5Gi, 512m or bytes)'
    )


def test_bad_duration(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  - http: {path: /x, timeout: soon}\n")
    assert load_error(path) == (
        f'{path}: steps[1].http.timeout: "soon" is not a duration '
        "(use 500ms, 2s, 1.5s, 2m, 1h or a number of seconds)"
    )


def test_bad_sleep_duration_names_the_step(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  - sleep: forever\n")
    assert load_error(path).startswith(f'{path}: steps[1].sleep: "forever" is not a duration')


def test_unknown_source_id(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "expect:\n  sources: {cgroup: visible, dmesg: visible}\n")
    message = load_error(path)
    assert message.startswith(
        f'{path}: expect.sources: unknown source "dmesg" (expected one of: cgroup, kernel_log, '
    )
    assert "health_probe" in message


def test_unknown_step_kind(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  - nap: 2s\n")
    assert load_error(path) == (
        f'{path}: steps[1]: unknown step kind "nap" '
        "(expected one of: wait_healthy, http, poll, wait, sleep, burst, wait_exit, snapshot)"
    )


def test_two_keys_in_one_step(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  - sleep: 2s\n    wait_healthy: {}\n")
    message = load_error(path)
    assert message.startswith(f"{path}: steps[1]: a step must have exactly one key, its kind")
    assert 'but has 2: "sleep", "wait_healthy"' in message


def test_options_not_indented_under_the_step(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "  - http:\n    path: /x\n")
    assert '(indent the options under "http:")' in load_error(path)


def test_empty_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "target: {}\nlimits: {memory: 256Mi}\nsteps: []\n")
    assert load_error(path) == f"{path}: steps: must have at least 1 item(s)"


def test_missing_required_sections(tmp_path: Path) -> None:
    path = write(tmp_path, "steps: [wait_healthy]\n")
    assert (
        load_error(path)
        == f"{path}: target: required key is missing; limits: required key is missing"
    )


def test_max_retries_with_policy_always(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "restart: {policy: always, max_retries: 3}\n")
    assert load_error(path) == (
        f'{path}: restart: max_retries only applies to policy "on-failure" (policy is "always")'
    )


def test_several_errors_are_joined_and_capped(tmp_path: Path) -> None:
    text = """\
target: {port: 0, health_path: x}
limits: {memory: 1m, cpus: 100}
repeat: 0
sample_interval: 10s
settle: -1s
steps: [wait_healthy]
"""
    message = load_error(write(tmp_path, text))
    items = message.split(": ", 1)[1].split("; ")
    assert len(items) == 6
    assert items[0].startswith("target.port: ")
    assert items[1].startswith("target.health_path: ")
    assert items[-1] == "and 2 more errors"
