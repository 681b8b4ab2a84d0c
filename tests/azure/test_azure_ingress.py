"""A scenario with a local ingress cannot run on Azure; the error says why."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.backends.azure.options import backend_from_args
from harness.errors import ScenarioError
from harness.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_an_ingress_scenario_is_refused_on_azure() -> None:
    scenario = load_scenario(SCENARIOS / "spike-ingress-retry.yaml")
    args = argparse.Namespace(backend="azure", dry_run=True, keep=False)
    with pytest.raises(ScenarioError, match="ingress puts a local HAProxy in front of the app"):
        backend_from_args(args, scenario, log=lambda line: None)
