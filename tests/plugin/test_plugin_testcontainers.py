"""The plugin's fixture beside a plain testcontainers container, in one test session.

Both are testcontainers containers of one session: they carry the same session label and
share one reaper, so a container the suite forgot is removed by that reaper once the
session's process has ended (here: a pytest run in a child process).
"""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from harness.config import HarnessConfig

pytestmark = pytest.mark.engine

INNER = '''
from testcontainers.core.container import DockerContainer, Reaper
from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID


def test_fixture_and_plain_container_share_a_session(oom_harness, oom_harness_session):
    result = oom_harness.run({scenario!r}, repeat=1, name={name!r})
    assert result.runs[0].evidence.kills
    reaper = Reaper._container._container
    assert SESSION_ID in reaper.name
    plain = DockerContainer(oom_harness_session.config.image).with_command(["sleep", "300"])
    plain.with_kwargs(labels={{"forgotten": {name!r}}})
    plain.start()  # never stopped: the reaper removes it after this process ends
    labels = plain.get_wrapped_container().labels
    assert labels[LABEL_SESSION_ID] == SESSION_ID
    reapers = oom_harness_session.client.containers.list(filters={{"name": "testcontainers-ryuk-" + SESSION_ID}})
    assert len(reapers) == 1
'''


def test_a_forgotten_plain_container_goes_with_the_session(
    pytester: pytest.Pytester, repo: Path, unique_name: str, docker_client: docker.DockerClient,
    harness_config: HarnessConfig,
) -> None:
    pytester.makepyfile(test_inner=INNER.format(scenario=str(repo / "scenarios" / "spike.yaml"), name=unique_name))
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=180)
    outcome.assert_outcomes(passed=1)
    ended = time.monotonic()
    forgotten = {"label": f"forgotten={unique_name}"}
    while (docker_client.containers.list(all=True, filters=forgotten, ignore_removed=True)
           and time.monotonic() - ended < 40):
        time.sleep(0.5)
    left = docker_client.containers.list(all=True, filters=forgotten, ignore_removed=True)
    for container in left:
        container.remove(force=True)
    waited = time.monotonic() - ended
    assert not left, f"the session's reaper did not remove the forgotten container within {waited:.0f} s"
