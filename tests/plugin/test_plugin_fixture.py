"""The plugin without an engine: resolving scenarios, CI's fail-not-skip, the matrix section."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HarnessConfig
from harness.errors import ScenarioError
from harness.pytest_plugin import HarnessSession, OomHarness
from harness.scenario import load_scenario

UNREACHABLE = "unix:///nonexistent/oom-harness-test.sock"

SMALL = {
    "target": {"image": "my-registry/worker:1.2"},
    "limits": {"memory": "64Mi"},
    "steps": ["wait_healthy"],
}


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> OomHarness:
    """The fixture's object bound to this test, without an engine (resolve needs none)."""
    return OomHarness(HarnessSession(HarnessConfig()), request.node, request.config.rootpath)


def test_a_relative_file_is_found_from_the_rootdir(
    harness: OomHarness, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario, source = harness.resolve("scenarios/spike.yaml", repeat=1, name="spike-once")
    assert source == str(repo / "scenarios" / "spike.yaml")
    assert (scenario.name, scenario.repeat) == ("spike-once", 1)
    assert scenario.steps == load_scenario(repo / "scenarios" / "spike.yaml").steps


def test_a_mapping_without_a_name_is_named_after_the_test(harness: OomHarness) -> None:
    scenario, source = harness.resolve(SMALL, repeat=2)
    assert source is None
    assert scenario.name == "test_a_mapping_without_a_name_is_named_after_the_test"
    assert scenario.target.image == "my-registry/worker:1.2"
    assert scenario.repeat == 2


def test_a_scenario_object_keeps_its_settings(harness: OomHarness, repo: Path) -> None:
    original = load_scenario(repo / "scenarios" / "gradual.yaml")
    scenario, _ = harness.resolve(original, repeat=1)
    assert scenario.repeat == 1
    assert scenario.model_dump(exclude={"repeat"}) == original.model_dump(exclude={"repeat"})
    assert harness.resolve(original)[0] is original


def test_a_bad_override_is_a_scenario_error(harness: OomHarness) -> None:
    with pytest.raises(ScenarioError, match="repeat"):
        harness.resolve(SMALL, repeat=0)


INNER_ENGINE = """
def test_needs_the_engine(oom_harness):
    oom_harness.run({"target": {"image": "x"}, "limits": {"memory": "64Mi"}, "steps": ["wait_healthy"]})
"""


def test_without_an_engine_the_test_skips(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", UNREACHABLE)
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(INNER_ENGINE)
    outcome = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    outcome.assert_outcomes(skipped=1)
    outcome.stdout.fnmatch_lines(["*no Docker engine or lab image here: no Docker engine reachable*"])


def test_under_ci_a_missing_engine_fails(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", UNREACHABLE)
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(INNER_ENGINE)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcome.assert_outcomes(errors=1)
    outcome.stdout.fnmatch_lines(["*CI=true but the engine tests cannot run: no Docker engine reachable*"])


INNER_REPORT = """
from harness.pytest_plugin import RESULTS
from harness.result import load_result


def test_fails_after_a_run(request):
    request.node.stash.setdefault(RESULTS, []).append(load_result({path!r}))
    assert False


def test_passes_after_a_run(request):
    request.node.stash.setdefault(RESULTS, []).append(load_result({path!r}))
"""


def test_a_failed_test_reports_the_matrix_of_its_runs(pytester: pytest.Pytester, repo: Path) -> None:
    pytester.makepyfile(INNER_REPORT.format(path=str(repo / "tests" / "data" / "results" / "spike.json")))
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1, passed=1)
    outcome.stdout.fnmatch_lines(["*- oom-harness: scenario spike -*", "scenario spike: 2 run(s) on docker*",
                                  "Gap matrix", "console_logs*visible*"])
    assert outcome.stdout.str().count("oom-harness: scenario spike") == 1
