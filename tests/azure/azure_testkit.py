"""Helpers shared by the Azure tests (a module of its own: ``conftest`` is not importable
by name when several test folders have one)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

DATA = Path(__file__).parent / "data"


class FakeClock:
    """Wall-clock time that moves only when the code under test sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def at(stamp: str) -> float:
    """Unix time of an ISO 8601 UTC stamp."""
    return datetime.fromisoformat(stamp).timestamp()
