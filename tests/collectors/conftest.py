"""Fixtures for the collector tests: the recorded inputs of tests/data/recorded."""

from __future__ import annotations

import pytest
from recorded_inputs import Recorded


@pytest.fixture(scope="session")
def recorded() -> Recorded:
    return Recorded()
