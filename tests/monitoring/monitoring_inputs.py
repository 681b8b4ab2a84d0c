"""Recorded monitoring inputs (tests/data/recorded/monitoring) for the unit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.evidence import RunEvidence
from harness.result import ScenarioResult, load_result

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "monitoring"


def recorded_result(scenario: str) -> ScenarioResult:
    return load_result(RECORDED / scenario / "result.json")


def recorded_evidence(scenario: str) -> RunEvidence:
    return recorded_result(scenario).runs[0].evidence


def webhook_bodies(scenario: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((RECORDED / scenario / "webhook_bodies.json").read_text())
    return data


def prometheus_answers(scenario: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / scenario / "prometheus_answers.json").read_text())
    return data


def promtool_output(name: str) -> str:
    return (RECORDED / "promtool" / f"{name}.out").read_text()
