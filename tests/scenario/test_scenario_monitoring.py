"""The monitoring section: rules files read once at load, relative to the scenario file,
errors naming the file and field; alert expectations checked against the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenario import load_scenario
from harness.scenario.monitoring import add_monitoring

BASE = """\
target: {image: labapp}
limits: {memory: 128Mi}
steps: [wait_healthy]
"""
RULES = """\
groups:
  - name: mine
    rules:
      - alert: WorkerKilled
        expr: increase(container_oom_events_total[1m]) > 0
"""


def _scenario(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "scenarios" / "mine.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(BASE + extra)
    return path


def test_rules_files_are_read_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "scenarios" / "rules").mkdir(parents=True)
    (tmp_path / "scenarios" / "rules" / "mine.yml").write_text(RULES)
    scenario = load_scenario(_scenario(tmp_path, "monitoring:\n  rules: [rules/mine.yml]\n"
                                                 "expect:\n  alerts: {WorkerKilled: visible, NodeOomKill: visible}\n"))
    assert scenario.monitoring is not None
    assert scenario.monitoring.profile == "fast"
    names = [rule.name for rule in scenario.monitoring.alert_rules()]
    assert names[-1] == "WorkerKilled" and "NodeOomKill" in names
    assert [Path(t.path).name for t in scenario.monitoring.rule_texts()] == ["shipped_rules.yaml", "mine.yml"]
    # The text travels with the scenario (to the guest): a dump reads back without the file.
    (tmp_path / "scenarios" / "rules" / "mine.yml").unlink()
    again = type(scenario).model_validate(scenario.model_dump(mode="json", by_alias=True))
    assert again.monitoring == scenario.monitoring


def test_a_missing_rules_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_scenario(tmp_path, "monitoring:\n  rules: [nowhere.yml]\n"))
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'scenarios' / 'mine.yaml'}: monitoring.rules[0]: ")
    assert f"cannot read rules file {tmp_path / 'scenarios' / 'nowhere.yml'}: No such file or directory" in text


def test_a_rules_file_that_is_not_yaml_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "bad.yml").write_text("groups:\n  - name: x\n    rules: [\n")
    with pytest.raises(ScenarioError, match=r"bad\.yml: line 4: not a YAML rules file"):
        load_scenario(_scenario(tmp_path, "monitoring:\n  rules: [bad.yml]\n"))


def test_a_rule_named_like_a_shipped_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "dup.yml").write_text(RULES.replace("WorkerKilled", "NodeOomKill"))
    with pytest.raises(ScenarioError, match="alert names given twice: NodeOomKill"):
        load_scenario(_scenario(tmp_path, "monitoring:\n  rules: [dup.yml]\n"))


def test_alert_expectations_need_monitoring_and_known_rules(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="expect.alerts needs a monitoring section"):
        load_scenario(_scenario(tmp_path, "expect:\n  alerts: {NodeOomKill: visible}\n"))
    with pytest.raises(ScenarioError, match='"Nope" names no alerting rule'):
        load_scenario(_scenario(tmp_path, "monitoring: {}\nexpect:\n  alerts: {Nope: visible}\n"))
    with pytest.raises(ScenarioError, match='"seen" is not a verdict'):
        load_scenario(_scenario(tmp_path, "monitoring: {}\nexpect:\n  alerts: {NodeOomKill: seen}\n"))
    with pytest.raises(ScenarioError, match="monitoring.profile"):
        load_scenario(_scenario(tmp_path, "monitoring: {profile: slow}\n"))


def test_adding_monitoring_from_the_command_line(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario(tmp_path, ""))
    assert add_monitoring(scenario) is scenario
    rules = tmp_path / "extra.yml"
    rules.write_text(RULES)
    added = add_monitoring(scenario, "production", [rules])
    assert added.monitoring is not None and added.monitoring.profile == "production"
    assert [r.name for r in added.monitoring.alert_rules()][-1] == "WorkerKilled"
    with pytest.raises(ScenarioError, match="cannot read rules file"):
        add_monitoring(scenario, None, [tmp_path / "missing.yml"])
