"""Scenario files: the YAML that describes one OOM experiment, parsed once into frozen models.

Use :func:`load_scenario` for a file and :func:`parse_scenario` for a mapping built in code;
both raise :class:`~harness.errors.ScenarioError` with one readable message. The models
themselves live in :mod:`harness.scenario.model`.
"""

from __future__ import annotations

from harness.scenario.loader import load_scenario, parse_scenario
from harness.scenario.model import Scenario
from harness.scenario.units import format_size, parse_duration, parse_size

__all__ = [
    "Scenario",
    "format_size",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
    "parse_size",
]
