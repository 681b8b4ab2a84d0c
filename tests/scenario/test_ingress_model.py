"""The ingress block and the per-request expectations of a scenario file."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import ScenarioError
from harness.scenario import Scenario, parse_scenario
from harness.scenario.model import Ingress


def _scenario(**extra: Any) -> Scenario:
    base: dict[str, Any] = {
        "target": {}, "limits": {"memory": "512m"},
        "steps": [{"http": {"name": "spike", "method": "POST", "path": "/spike"}}],
    }
    return parse_scenario({**base, **extra}, "s.yaml")


def _error(**extra: Any) -> str:
    with pytest.raises(ScenarioError) as caught:
        _scenario(**extra)
    return str(caught.value)


def test_no_ingress_by_default() -> None:
    assert _scenario().ingress is None


def test_ingress_defaults_mean_no_retries() -> None:
    ingress = _scenario(ingress={}).ingress
    assert ingress == Ingress()
    assert ingress is not None and ingress.retries == 0 and ingress.retry_on == ["conn-failure"]
    assert ingress.timeout_connect == 5.0 and ingress.timeout_server == 60.0


def test_retry_on_takes_haproxy_keywords_a_single_word_and_numeric_codes() -> None:
    ingress = _scenario(ingress={"retries": 5, "retry_on": ["empty-response", 502, "empty-response"],
                                 "timeout_server": "90s"}).ingress
    assert ingress is not None
    assert ingress.retry_on == ["empty-response", "502"]
    assert ingress.timeout_server == 90.0
    single = _scenario(ingress={"retries": 1, "retry_on": "response-timeout"}).ingress
    assert single is not None and single.retry_on == ["response-timeout"]


@pytest.mark.parametrize(("retry_on", "hint"), [
    ("reset", 'a reset before any answer is "empty-response"'),
    ("timeout", '"response-timeout"'),
    ("5xx", '"500", "502", "503", "504"'),
    ("sometimes", "expected one of: conn-failure, empty-response"),
])
def test_a_wrong_retry_condition_names_the_field_and_the_right_word(retry_on: str, hint: str) -> None:
    message = _error(ingress={"retries": 2, "retry_on": [retry_on]})
    assert message.startswith("s.yaml: ingress.retry_on")
    assert hint in message


def test_ingress_limits_and_unknown_keys() -> None:
    assert "ingress.retries" in _error(ingress={"retries": 21})
    assert "ingress.retry_on: give at least one retry condition" in _error(ingress={"retry_on": []})
    assert 'unknown key "retry"' in _error(ingress={"retry": 1})
    assert "ingress.timeout_connect" in _error(ingress={"timeout_connect": "0s"})


def test_per_request_expectations_name_a_step() -> None:
    scenario = _scenario(expect={"per_request": {"spike": {"attempts": 6, "kills": {"min": 2}}}})
    wanted = scenario.expect.per_request["spike"]
    assert wanted.attempts is not None and wanted.attempts.describe() == "exactly 6"
    assert wanted.kills is not None and wanted.kills.describe() == "at least 2"


def test_per_request_of_an_unknown_step_lists_the_named_ones() -> None:
    message = _error(expect={"per_request": {"spkie": {"kills": 1}}})
    assert 'expect.per_request: "spkie" names no http or burst step (named steps: spike)' in message


def test_per_request_needs_attempts_or_kills() -> None:
    assert "expect.per_request.spike: give attempts, kills or both" in _error(expect={"per_request": {"spike": {}}})


def test_the_shipped_ingress_pair_differs_only_in_retries() -> None:
    from pathlib import Path

    from harness.compare import settings_diff
    from harness.scenario import load_scenario

    root = Path(__file__).resolve().parents[2] / "scenarios"
    on, off = load_scenario(root / "spike-ingress-retry.yaml"), load_scenario(root / "spike-ingress.yaml")
    changes = settings_diff(off.model_dump(mode="json", by_alias=True), on.model_dump(mode="json", by_alias=True))
    assert [(c.path, c.a, c.b) for c in changes] == [("ingress.retries", 0, 5)]
