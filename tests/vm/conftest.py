"""The cgroup v2 guest for the tests marked ``vm``: booted once per session.

Under ``CI=true`` the guest is built when missing and a guest that cannot be had fails
the tests; elsewhere they skip unless ``harness vm setup`` has built it. The results of
the guest's runs are kept under ``OOM_HARNESS_VM_RESULTS`` when it is set (the README's
v2 figures come from there).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import pytest
from guest_testkit import IN_GUEST, ROOT

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.pytest_plugin import in_ci
from harness.scenario import load_scenario
from harness.vm.image import GuestImage, ensure_guest_image, find_guest_image
from harness.vm.session import GuestSession, guest_session


def _unavailable(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"CI=true but the cgroup v2 guest cannot be had: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def guest_image() -> GuestImage:
    """The built guest (built here under CI when missing)."""
    config = HarnessConfig()
    image = None
    try:
        image = ensure_guest_image(config, log=print) if in_ci() else find_guest_image(config)
    except HarnessError as exc:
        _unavailable(str(exc))
    if image is None:
        _unavailable("no cgroup v2 guest is built here: run `harness vm setup` (about 2 minutes)")
    assert image is not None
    return image


@pytest.fixture(scope="session")
def guest(guest_image: GuestImage) -> Iterator[GuestSession]:
    """One booted guest for the session, with the images the shipped scenarios need."""
    config = HarnessConfig()
    image = guest_image
    scenarios = [load_scenario(ROOT / "scenarios" / f"{name}.yaml") for name in IN_GUEST]
    try:
        with guest_session(config, scenarios, log=print, image=image) as session:
            yield session
    except HarnessError as exc:
        _unavailable(f"the guest did not come up: {exc}")
