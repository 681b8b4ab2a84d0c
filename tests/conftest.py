"""Shared fixtures. Real-engine tests are marked ``engine``.

Under ``CI=true`` an unreachable engine or an unbuildable image fails the session:
CI must run the container tests for real. Elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import pytest

from harness.config import HarnessConfig
from harness.errors import HarnessError

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def harness_config() -> HarnessConfig:
    return HarnessConfig()


@pytest.fixture(scope="session")
def docker_client(harness_config: HarnessConfig) -> Iterator[docker.DockerClient]:
    """A client for a running engine with the lab image built (cached when unchanged)."""
    from harness.backends.docker import engine, image

    try:
        client = engine.connect()
        image.build_lab_image(client, harness_config, log=lambda line: None)
    except HarnessError as exc:
        if IN_CI:
            pytest.fail(f"CI=true but the engine tests cannot run: {exc}", pytrace=False)
        pytest.skip(f"no Docker engine or lab image here: {exc}")
    yield client
    client.close()


@pytest.fixture
def no_leaks(docker_client: docker.DockerClient, harness_config: HarnessConfig) -> Iterator[None]:
    """Fails the test if it leaves a harness-labelled container behind."""
    yield
    left = docker_client.containers.list(all=True, filters={"label": harness_config.owner_label})
    assert not left, f"containers left behind: {[c.short_id for c in left]}"
