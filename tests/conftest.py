"""Shared fixtures. Real-engine tests are marked ``engine``.

Under ``CI=true`` an unreachable engine or an unbuildable image fails the session:
CI must run the container tests for real. Elsewhere those tests skip with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from harness.config import HarnessConfig
from harness.pytest_plugin import HarnessSession

# pytest only accepts `pytest_plugins` in the top-level conftest; tests/plugin needs pytester.
pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def harness_config() -> HarnessConfig:
    return HarnessConfig()


@pytest.fixture(scope="session")
def docker_client(oom_harness_session: HarnessSession) -> docker.DockerClient:
    """A client for a running engine with the lab image built (cached when unchanged).

    The oom_harness plugin's session connects once, fails under CI or skips elsewhere,
    and closes the client at the end.
    """
    oom_harness_session.require_lab_image()
    return oom_harness_session.client


@pytest.fixture
def no_leaks(docker_client: docker.DockerClient, harness_config: HarnessConfig) -> Iterator[None]:
    """Fails the test if it leaves a harness-labelled container or network behind."""
    yield
    left = docker_client.containers.list(all=True, filters={"label": harness_config.owner_label}, ignore_removed=True)
    assert not left, f"containers left behind: {[c.short_id for c in left]}"
    networks = docker_client.networks.list(filters={"label": harness_config.owner_label})
    assert not networks, f"networks left behind: {[n.name for n in networks]}"
