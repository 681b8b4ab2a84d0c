"""Fixtures for the Azure backend and importer tests: recorded answers and a fake clock.

Nothing here reaches Azure: the SDK clients are replaced by
:class:`~harness.backends.azure.fake.FakeAzureApi` playing recorded JSON (``data/``), and
HTTP to the app goes through ``httpx.MockTransport``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from azure_testkit import DATA, FakeClock, at


@pytest.fixture
def seed_dir() -> Path:
    """Recordings built from the figures of the reference lab (seed 000, section 10)."""
    return DATA / "seed000"


@pytest.fixture
def pid1_dir() -> Path:
    """Recordings of a PID-1 OOM restart loop (seed 001's observed system log)."""
    return DATA / "pid1_restart_loop"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at("2026-04-10T14:06:40+00:00"))
