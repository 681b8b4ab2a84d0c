"""--set, the variants of a sweep, the scheduler's admission and the right-size bisection
(with a workload whose kill threshold is known), without an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError, ResultError, ScenarioError, UsageError
from harness.jsondata import to_data
from harness.scenario import load_scenario
from harness.scenario.overrides import Setting, apply
from harness.sweep.rightsize import MIB, Probe, bisect, recommend
from harness.sweep.schedule import Capacity, Demand, admits, demand
from harness.sweep.summary import SweepSummary, outcome_of, read_summary
from harness.sweep.variants import variants

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
GRADUAL = SCENARIOS / "gradual.yaml"


def test_a_setting_reads_yaml_scalars_and_keeps_a_flow_value_whole() -> None:
    assert Setting.parse("limits.memory=256Mi,1Gi").values == ("256Mi", "1Gi")
    assert Setting.parse("target.process.workers=1,2,4").values == (1, 2, 4)
    assert Setting.parse("steps.1.http.json={chunk_mb: 8, target_mb: 100}").values == (
        {"chunk_mb": 8, "target_mb": 100},)
    assert Setting.parse("limits.memory=1Gi,2Gi", many=False).values == ("1Gi,2Gi",)


@pytest.mark.parametrize("text, message", [
    ("limits.memory", "expected PATH=VALUE"), ("=1Gi", "expected PATH=VALUE"), ("limits..memory=1", "dotted"),
    ("limits.memory=1Gi,1Gi", "a value is given twice"), ("limits.memory=1Gi,", "an empty value"),
])
def test_a_malformed_setting_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        Setting.parse(text)
    assert str(caught.value).startswith(f"--set {text}:")


def test_a_setting_reaches_into_lists_and_sections() -> None:
    data = {"limits": {"memory": "0.5Gi"}, "steps": ["wait_healthy", {"http": {"json": {"target_mb": 600}}}]}
    changed = apply(data, [(Setting.parse("steps.1.http.json.target_mb=300"), 300),
                           (Setting.parse("limits.cpus=0.5"), 0.5)])
    assert changed["steps"][1]["http"]["json"]["target_mb"] == 300 and changed["limits"]["cpus"] == 0.5
    assert data["steps"][1]["http"]["json"]["target_mb"] == 600  # the file's data is not touched
    with pytest.raises(UsageError, match="steps.5: the list has items 0 to 1"):
        apply(data, [(Setting.parse("steps.5.sleep=1s"), "1s")])
    with pytest.raises(UsageError, match="steps.0 is a value, not a section"):
        apply(data, [(Setting.parse("steps.0.wait_healthy.timeout=5s"), "5s")])


def test_a_wrong_field_or_value_is_refused_by_the_scenario_check_naming_the_set() -> None:
    with pytest.raises(ScenarioError, match=r'limits: unknown key "memroy".*\(with --set limits.memroy=1Gi\)'):
        variants(GRADUAL, [Setting.parse("limits.memroy=1Gi")])
    with pytest.raises(ScenarioError, match=r"limits.memory: \"lots\" is not a size"):
        variants(GRADUAL, [Setting.parse("limits.memory=256Mi,lots")])


def test_variants_are_the_product_of_the_settings_in_order() -> None:
    found = variants(GRADUAL, [Setting.parse("limits.memory=256Mi,512Mi"), Setting.parse("target.process.workers=1,2")],
                     repeat=1)
    assert [v.label for v in found] == [
        "limits.memory=256Mi target.process.workers=1", "limits.memory=256Mi target.process.workers=2",
        "limits.memory=512Mi target.process.workers=1", "limits.memory=512Mi target.process.workers=2"]
    assert [v.scenario.limits.memory for v in found] == [256 * MIB, 256 * MIB, 512 * MIB, 512 * MIB]
    assert found[1].scenario.target.process.workers == 2 and found[0].scenario.repeat == 1
    assert found[3].folder == "04-limits.memory-512Mi_target.process.workers-2"
    assert found[3].set_arguments() == ["--set", "limits.memory=512Mi", "--set", "target.process.workers=2"]
    assert load_scenario(GRADUAL, repeat=1, changes=found[3].changes) == found[3].scenario


def test_a_sweep_needs_a_setting_and_each_path_once() -> None:
    with pytest.raises(UsageError, match="at least one --set"):
        variants(GRADUAL, [])
    with pytest.raises(UsageError, match="given twice"):
        variants(GRADUAL, [Setting.parse("limits.memory=1Gi"), Setting.parse("limits.memory=2Gi")])


def test_admission_by_the_sum_of_cpu_and_memory_limits_and_the_cap() -> None:
    machine = Capacity(cpus=2.0, memory_bytes=4096 * MIB, parallel=16)
    gradual = Demand(0.25, 512 * MIB)
    assert all(admits([gradual] * n, gradual, machine) for n in range(7))
    assert not admits([gradual] * 8, gradual, machine)  # 2.25 CPUs would not fit
    assert not admits([Demand(0.25, 2048 * MIB)] * 2, gradual, machine)  # memory would not fit
    assert not admits([gradual] * 2, gradual, Capacity(2.0, 4096 * MIB, parallel=2))
    assert admits([], Demand(8.0, 64 * 2**30), machine)  # too big for the engine: runs alone


def test_a_variant_without_a_cpu_limit_takes_the_whole_machine() -> None:
    machine = Capacity(cpus=2.0, memory_bytes=4096 * MIB, parallel=16)
    scenario = load_scenario(GRADUAL, changes=[(Setting.parse("limits.cpus=null"), None)])
    assert demand(scenario, machine) == Demand(2.0, 512 * MIB)


def _workload(threshold_mib: int, peak_mib: float, calls: list[int]):  # type: ignore[no-untyped-def]
    """A probe of a workload that is killed below ``threshold_mib`` and peaks at ``peak_mib``."""
    def run(limit: int) -> Probe:
        calls.append(limit // MIB)
        ok = limit >= threshold_mib * MIB
        return Probe(limit, 2, 0 if ok else 3, [min(peak_mib, limit / MIB)] * 2,
                     {} if ok else {"cgroup": "visible", "console_logs": "visible"})
    return run


def test_bisection_finds_the_smallest_clean_limit_to_within_the_step() -> None:
    calls: list[int] = []
    limit, below, probes = bisect(_workload(400, 380, calls), 1024 * MIB, 32 * MIB, 24 * 2**30,
                                  log=lambda line: None)
    assert limit == 416 * MIB  # the first multiple of the step at or above 400 MiB
    assert below is not None and below.limit_bytes == 384 * MIB and below.kills == 3
    assert calls[0] == 1024 and len(calls) <= 6 and calls == [p.limit_bytes // MIB for p in probes]


def test_the_upper_bound_is_doubled_until_it_runs_clean() -> None:
    calls: list[int] = []
    limit, below, _ = bisect(_workload(700, 690, calls), 512 * MIB, 64 * MIB, 24 * 2**30, log=lambda line: None)
    assert calls[:2] == [512, 1024] and limit == 704 * MIB and below is not None and below.limit_bytes == 640 * MIB
    with pytest.raises(HarnessError, match="kills at every limit up to 2 GiB"):
        bisect(_workload(5000, 4000, []), 1024 * MIB, 64 * MIB, 3 * 2**30, log=lambda line: None)


def test_a_lower_bound_that_passes_is_the_answer() -> None:
    calls: list[int] = []
    limit, below, _ = bisect(_workload(100, 90, calls), 512 * MIB, 64 * MIB, 24 * 2**30, low=256 * MIB,
                             log=lambda line: None)
    assert limit == 256 * MIB and below is None and calls[-1] == 256


def test_the_recommendation_adds_the_headroom_and_rounds_up_to_the_step() -> None:
    assert recommend(416 * MIB, 0.2, 32 * MIB) == 512 * MIB
    assert recommend(512 * MIB, 0.0, 32 * MIB) == 512 * MIB


def test_a_sweep_summary_reads_back_and_ignores_fields_added_later() -> None:
    outcome = outcome_of(1, "limits.memory=256Mi", {"limits.memory": "256Mi"}, "01-x", 2, 3.04, None, "no engine")
    summary = SweepSummary("gradual", "gradual.yaml", {"limits.memory": ["256Mi"]}, None, "2 CPUs", {}, 3.0,
                           [outcome])
    data = to_data(summary)
    assert data["schema"] == "oom-harness/sweep/1"
    data["variants"][0]["added_later"] = 1
    data["added_later"] = True
    assert read_summary(data) == summary
    with pytest.raises(ResultError, match="not a sweep summary of this version"):
        read_summary({**data, "schema": "oom-harness/sweep/2"})
    assert not outcome.ran and outcome.wall_s == 3.0
