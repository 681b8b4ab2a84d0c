"""Shipped scenarios: found by name, listed, printed; every one of them valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ScenarioError
from harness.scenario import load_scenario
from harness.scenario.catalog import SHIPPED_DIR, names_a_scenario, resolve_scenario, shipped_scenarios, shipped_text

NAMES = [s.name for s in shipped_scenarios()]


def test_the_shipped_scenarios_are_package_data_and_the_clone_points_there() -> None:
    assert SHIPPED_DIR.parent.name == "scenario" and "gradual" in NAMES and "spike" in NAMES
    clone = Path(__file__).resolve().parents[2] / "scenarios"
    assert clone.resolve() == SHIPPED_DIR


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_scenario_loads_and_says_what_it_does(name: str) -> None:
    scenario = load_scenario(resolve_scenario(name))
    assert scenario.name == name
    assert next(s for s in shipped_scenarios() if s.name == name).summary


def test_a_name_a_yaml_name_and_a_path_all_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_scenario("gradual") == resolve_scenario("gradual.yaml") == SHIPPED_DIR / "gradual.yaml"
    own = tmp_path / "gradual.yaml"
    own.write_text("x: 1\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario("gradual.yaml") == Path("gradual.yaml")  # the user's own file wins as a path
    assert resolve_scenario(str(own)) == own


def test_unknown_names_and_missing_files_are_named_with_the_shipped_list() -> None:
    with pytest.raises(ScenarioError, match=r"^nope: neither a scenario file nor a shipped scenario \(shipped: "):
        resolve_scenario("nope")
    with pytest.raises(ScenarioError, match=r"^dir/x.yaml: no such scenario file"):
        resolve_scenario("dir/x.yaml")
    with pytest.raises(ScenarioError, match="no shipped scenario of that name"):
        shipped_text("nope")


def test_results_and_scenarios_are_told_apart(tmp_path: Path) -> None:
    assert names_a_scenario("gradual") and names_a_scenario("mine.yaml")
    assert not names_a_scenario(str(tmp_path)) and not names_a_scenario("results/gradual")


def test_the_cli_lists_prints_and_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    listing = capsys.readouterr().out
    assert all(f"{name} " in listing for name in NAMES)
    assert main(["scenarios", "show", "spike"]) == 0
    assert capsys.readouterr().out == (SHIPPED_DIR / "spike.yaml").read_text()
    assert main(["scenarios", "show", "nope"]) == 2
    assert "no shipped scenario" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("harness 0.")


def test_run_with_an_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no-such-scenario"]) == 2
    assert "error: no-such-scenario: neither a scenario file nor a shipped scenario" in capsys.readouterr().err


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_scenario_reads_back_from_its_dump(name: str) -> None:
    """The guest and the pytest plugin re-validate a dumped scenario: it must read back unchanged."""
    from harness.scenario import parse_scenario

    scenario = load_scenario(resolve_scenario(name))
    dumped = scenario.model_dump(mode="json", by_alias=True)
    again = parse_scenario(dumped, f"{name} (dumped)")
    assert again.model_dump(mode="json", by_alias=True) == dumped
