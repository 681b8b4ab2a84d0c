"""A failing test that used the plugin leaves no container behind and shows the matrix."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.engine

# Two failing tests in a separate pytest process: one runs a scenario (its containers are
# removed by the run itself), one leaves a running container for the session's end to remove.
INNER = '''
import pytest


def test_runs_a_scenario_then_fails(oom_harness):
    result = oom_harness.run({spike!r}, repeat=1, name={name!r})
    # False on purpose: the console logs do see the kill.
    assert result.source("console_logs").verdict == "gap"


def test_leaves_a_container_then_fails(oom_harness_session):
    config = oom_harness_session.config
    oom_harness_session.prepare_lab_image()
    labels = {{config.label: "test", config.label + ".owner": config.owner, config.label + ".scenario": {name!r}}}
    oom_harness_session.client.containers.run(config.image, ["sleep", "300"], detach=True, mem_limit="32m",
                                              labels=labels)
    assert False, "failing with a container still running"
'''


def test_a_failing_test_leaves_no_container_and_shows_the_matrix(
    pytester: pytest.Pytester, repo: Path, unique_name: str, scenario_label: str, docker_client: docker.DockerClient
) -> None:
    pytester.makepyfile(test_inner=INNER.format(spike=str(repo / "scenarios" / "spike.yaml"), name=unique_name))
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=180)

    outcome.assert_outcomes(failed=2)
    outcome.stdout.fnmatch_lines([f"*- oom-harness: scenario {unique_name} -*", "*Gap matrix*",
                                  "*console_logs*visible*"])
    assert outcome.stdout.str().count("- oom-harness: scenario") == 1  # only the test that ran one
    left = docker_client.containers.list(all=True, filters={"label": scenario_label}, ignore_removed=True)
    assert not left, f"containers left behind: {[c.short_id for c in left]}"
