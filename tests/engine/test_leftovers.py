"""Removing a killed harness's leftovers never stops the user's run: one already gone
(the reaper got there first) is skipped, one that cannot be removed is logged."""

from __future__ import annotations

import socket
from typing import Any

import docker
import pytest

from harness.backends.docker.owner import remove_labelled, remove_leftovers
from harness.config import HarnessConfig

pytestmark = pytest.mark.engine


def _leftover(client: docker.DockerClient, config: HarnessConfig) -> Any:
    dead = f"{socket.gethostname()}/999999/1"  # no such process: its owner is gone
    return client.containers.create(config.image, ["true"], labels={
        config.label: "run", f"{config.label}.owner": dead, f"{config.label}.user": "leftover-test"})


def _listing(monkeypatch: pytest.MonkeyPatch, containers: list[Any]) -> None:
    """The engine's listing, as it was before some of it went away (``client.containers``
    is a new collection at each access, so the class is patched)."""
    monkeypatch.setattr(docker.models.containers.ContainerCollection, "list", lambda self, **kwargs: containers)
    monkeypatch.setattr(docker.models.networks.NetworkCollection, "list", lambda self, **kwargs: [])


def test_a_leftover_the_reaper_removed_first_is_skipped(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = _leftover(docker_client, harness_config), _leftover(docker_client, harness_config)
    first.remove(force=True)  # removed behind the harness's back: its removal answers 404
    listed = [first, second]
    _listing(monkeypatch, listed)
    lines: list[str] = []
    removed = remove_leftovers(docker_client, harness_config.label, "leftover-test", lines.append)
    assert removed == [second.name]
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(second.id)


def test_a_leftover_that_cannot_be_removed_is_logged_and_the_rest_goes_on(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    stuck, other = _leftover(docker_client, harness_config), _leftover(docker_client, harness_config)

    def refuse(**kwargs: Any) -> None:
        raise docker.errors.APIError("driver failed removing container", explanation="device or resource busy")

    monkeypatch.setattr(stuck, "remove", refuse)
    _listing(monkeypatch, [stuck, other])
    lines: list[str] = []
    try:
        removed = remove_leftovers(docker_client, harness_config.label, "leftover-test", lines.append)
        assert removed == [other.name]
        assert lines[0].startswith(f"engine: could not remove leftover {stuck.name}: ")
    finally:
        docker.models.containers.Container.remove(stuck, force=True)


def _listing_ids(monkeypatch: pytest.MonkeyPatch, ids: list[str]) -> None:
    """The engine's raw listing as it was before some of it went away: docker's own
    ``containers.list`` then inspects each id, the step where a removed one answers 404."""
    monkeypatch.setattr(docker.api.client.APIClient, "containers", lambda self, **kwargs: [{"Id": i} for i in ids])


def test_a_leftover_removed_between_listing_and_inspection_is_skipped(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = _leftover(docker_client, harness_config), _leftover(docker_client, harness_config)
    first.remove(force=True)
    _listing_ids(monkeypatch, [first.id, second.id])
    lines: list[str] = []
    removed = remove_leftovers(docker_client, harness_config.label, "leftover-test", lines.append)
    assert removed == [second.name] and lines == [f"engine: removed 1 leftover(s) of a harness that was killed: "
                                                  f"{second.name}"]


def test_clean_skips_what_went_meanwhile(
    docker_client: docker.DockerClient, harness_config: HarnessConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = _leftover(docker_client, harness_config), _leftover(docker_client, harness_config)
    _listing(monkeypatch, [first, second])
    first.remove(force=True)
    removed = remove_labelled(docker_client, harness_config.label, (f"{harness_config.label}.user=leftover-test",))
    assert removed == [second.name]
