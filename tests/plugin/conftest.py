"""Fixtures for the plugin's tests.

pytester comes from the top-level tests/conftest.py: pytest refuses ``pytest_plugins``
in a conftest below the rootdir's first level.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.config import HarnessConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo() -> Path:
    """The repository, for its scenario files and recorded results."""
    return REPO


@pytest.fixture
def unique_name() -> str:
    """A scenario name no other test (or developer) uses, to find exactly our containers."""
    return f"plugin-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def scenario_label(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, unique_name: str
) -> Iterator[str]:
    """``io.oom-harness.scenario=<unique name>``: the label of this test's own containers.
    Any still carrying it at the end are removed (only those: the engine is shared)."""
    label = f"{harness_config.label}.scenario={unique_name}"
    yield label
    for container in docker_client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
        container.remove(force=True, v=True)
