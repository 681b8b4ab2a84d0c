"""Alerting rules as matrix rows, judged from recorded runs and from variants of them
that make each verdict: visible, gap, misleading, none and every unavailable."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from monitoring_inputs import recorded_evidence, recorded_result

from harness.evidence import SourceStatus
from harness.evidence.alerts import AlertNotification, AlertRule, RuleState
from harness.matrix import aggregate, build_matrix
from harness.matrix.alerts import Firing, kill_latencies, kill_latency
from harness.pytest_plugin import assert_alert_fires
from harness.runner.expect import check_run
from harness.scenario.expectations import Expectations


def rows(evidence: object) -> dict[str, tuple[str, int | None, str]]:
    return {row.source.removeprefix("alert:"): (row.verdict, row.kills_seen, row.note)
            for row in build_matrix(evidence) if row.source.startswith("alert:")}  # type: ignore[arg-type]


def test_a_worker_kill_is_caught_by_the_kernel_counters_only() -> None:
    found = rows(recorded_evidence("gradual-alerts"))
    assert {name: verdict for name, (verdict, _, _) in found.items()} == {
        "HostOomKillDetected": "visible", "KubernetesContainerOomKiller": "gap", "MultipleContainersOOMKilled": "gap",
        "KubePodCrashLooping": "gap", "ContainerOomEvent": "visible", "NodeOomKill": "visible"}
    verdict, seen, note = found["KubernetesContainerOomKiller"]
    assert note.startswith("never fired: (kube_pod_container_status_restarts_total - ")
    assert "kube_pod_container_status_restarts_total stayed 0" in note
    assert "kube_pod_container_status_last_terminated_reason no series: the container never terminated" in note
    assert found["ContainerOomEvent"][2].startswith("fired for 1/1 kills, notified ")


def test_pid1_kills_are_caught_by_the_status_rules_too() -> None:
    found = rows(recorded_evidence("pid1-oom-alerts"))
    assert found["KubernetesContainerOomKiller"][:2] == ("visible", 4)
    assert found["MultipleContainersOOMKilled"][0] == "gap"  # needs more than 10 OOM restarts in 12 min
    verdict, seen, note = found["KubePodCrashLooping"]
    assert (verdict, seen) == ("unavailable", None)
    assert "its for: 15m is longer than" in note
    latencies = kill_latencies(recorded_evidence("pid1-oom-alerts"), "ContainerOomEvent")
    assert len(latencies) == 4 and latencies[0] is not None and latencies[0] > 0 and latencies[1:] == [0.0] * 3


def test_the_stored_matrix_is_what_the_stored_evidence_gives() -> None:
    for scenario in ("gradual-alerts", "pid1-oom-alerts"):
        result = recorded_result(scenario)
        assert build_matrix(result.runs[0].evidence) == result.runs[0].matrix


def test_a_stack_that_did_not_run_is_unavailable_never_a_gap() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    broken = replace(evidence, alerts=replace(evidence.alerts, status=SourceStatus.unavailable(
        "the monitoring stack did not come up: prometheus exited with code 1")))
    assert {v for v, _, _ in rows(broken).values()} == {"unavailable"}
    assert rows(broken)["NodeOomKill"][2] == "the monitoring stack did not come up: prometheus exited with code 1"


def test_a_rule_whose_source_could_not_be_read_is_unavailable() -> None:
    evidence = recorded_evidence("gradual-alerts")
    blind = replace(evidence, status={**evidence.status, "engine_state": SourceStatus.unavailable("inspect failed")})
    found = rows(blind)
    assert found["KubernetesContainerOomKiller"] == (
        "unavailable", None, "reads kube_pod_container_status_restarts_total, whose source engine_state is "
                             "unavailable: inspect failed")
    assert found["ContainerOomEvent"][0] == "visible"


def test_a_series_never_scraped_makes_its_rules_unavailable() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    absent = replace(evidence, alerts=replace(evidence.alerts, series_absent={
        "node_vmstat_oom_kill": "node_exporter served no node_vmstat_oom_kill"}))
    found = rows(absent)
    assert found["NodeOomKill"] == ("unavailable", None,
                                    "reads node_vmstat_oom_kill: node_exporter served no node_vmstat_oom_kill")
    assert found["HostOomKillDetected"][0] == "unavailable"


def test_pending_or_unnotified_is_unavailable_and_never_true_is_a_gap() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    kill = evidence.kills[0].t
    quiet = [n for n in evidence.alerts.notifications if n.rule != "NodeOomKill"]
    for states, verdict, words in (
        ((RuleState("NodeOomKill", pending_at=kill + 1.0),), "unavailable", "pending from +1.0 s"),
        ((RuleState("NodeOomKill", pending_at=kill + 1.0, firing_at=kill + 2.0),), "unavailable",
         "firing in Prometheus at +2.0 s after the first kill but no notification arrived"),
        ((), "gap", "never fired: increase(node_vmstat_oom_kill[5m]) > 0; node_vmstat_oom_kill "),
    ):
        variant = replace(evidence, alerts=replace(evidence.alerts, notifications=tuple(quiet), states=states))
        found = rows(variant)["NodeOomKill"]
        assert found[0] == verdict and words in found[2], found


def test_a_firing_before_any_kill_is_misleading() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    kill = evidence.kills[0].t
    early = AlertNotification(kill - 9.0, "NodeOomKill", "firing", kill - 10.0, None, "0123456789abcdef", {})
    noisy = replace(evidence, alerts=replace(evidence.alerts, notifications=(*evidence.alerts.notifications, early)))
    row = next(r for r in build_matrix(noisy) if r.source == "alert:NodeOomKill")
    assert (row.verdict, row.false_claims) == ("misleading", 1)
    assert row.note.endswith("1 firing(s) with no OOM kill behind it")


def test_no_kill_and_no_firing_is_none() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    calm = replace(evidence, kills=[], observations=[o for o in evidence.observations if not o.kill],
                   alerts=replace(evidence.alerts, notifications=(), states=()))
    assert {v for v, _, _ in rows(calm).values()} == {"none"}


def test_aggregate_leaves_out_runs_where_a_rule_could_not_look() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    broken = replace(evidence, alerts=replace(evidence.alerts, status=SourceStatus.unavailable("no prometheus")))
    total = {row.source: row for row in aggregate([build_matrix(evidence), build_matrix(broken)])}
    row = total["alert:ContainerOomEvent"]
    assert (row.verdict, row.kills_seen, row.ground_truth_kills) == ("visible", 1, 1)
    assert row.note.endswith("unavailable in run 2: no prometheus")


def test_alert_expectations_are_checked() -> None:
    result = recorded_result("gradual-alerts")
    run = result.runs[0]
    expect = Expectations.model_validate({"alerts": {"NodeOomKill": "visible", "KubernetesContainerOomKiller":
                                                     ["visible", "partial"], "Missing": "gap"}})
    failures = check_run(1, expect, run.figures, run.matrix)
    assert failures[0].startswith("run 1: alert rule KubernetesContainerOomKiller was gap (0/1: never fired")
    assert failures[0].endswith("expected visible or partial")
    assert failures[1] == ("run 1: alert rule Missing was not evaluated (no monitoring in this run, or no rule of "
                           "that name)")
    assert len(failures) == 2


def test_assert_alert_fires_for_a_users_ci() -> None:
    result = recorded_result("gradual-alerts")
    (latency,) = assert_alert_fires(result, "ContainerOomEvent", within_s=30)
    assert 0 < latency < 5
    with pytest.raises(pytest.fail.Exception, match="KubernetesContainerOomKiller never paged for kill 1"):
        assert_alert_fires(result, "KubernetesContainerOomKiller", within_s=30)
    with pytest.raises(pytest.fail.Exception, match=r"paged \d\.\d s after kill 1 \(more than 0.1 s\)"):
        assert_alert_fires(result, "ContainerOomEvent", within_s=0.1)
    with pytest.raises(pytest.fail.Exception, match="no alerting rule named Mine was evaluated"):
        assert_alert_fires(result, "Mine", within_s=30)


def test_a_run_that_ended_before_the_profiles_worst_case_is_no_gap() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    kill = evidence.kills[0].t
    production = {"name": "production", "scrape_interval_s": 15.0, "evaluation_interval_s": 15.0,
                  "group_wait_s": 30.0}
    short = replace(evidence, alerts=replace(evidence.alerts, profile=production, ended_at=kill + 40.0, states=(),
                                             notifications=()))
    verdict, _, note = rows(short)["KubernetesContainerOomKiller"]
    assert (verdict, note) == ("unavailable", "the run ended 40 s after the last kill, before the 75 s a rule can "
                                              "take under the production profile")
    # Watched long enough but with the series' samples ending 6 s after the kill: the
    # production profile's scrapes could not have shown it.
    watched = replace(short, alerts=replace(short.alerts, ended_at=kill + 80.0))  # type: ignore[arg-type]
    verdict, _, note = rows(watched)["KubernetesContainerOomKiller"]
    assert verdict == "unavailable" and "which Prometheus did not scrape for" in note
    fast = replace(evidence, alerts=replace(evidence.alerts, ended_at=kill + 80.0, states=(), notifications=()))
    assert rows(fast)["KubernetesContainerOomKiller"][0] == "gap"


def test_a_kill_that_came_while_the_rule_was_firing_was_paged_at_once() -> None:
    # Kills at 100 and 110; an instance from 101 to 400 covers the second; a kill at 500
    # is announced by the instance that starts at 501.
    first = Firing(start=101.0, arrived=102.0, end=400.0)
    second = Firing(start=501.0, arrived=503.0, end=None)
    assert [kill_latency(k, [first, second]) for k in (100.0, 110.0, 500.0)] == [2.0, 0.0, 3.0]
    assert kill_latency(450.0, [first]) is None  # ended before the kill, nothing after it
    # One instance that began after two kills pages for both.
    late = Firing(start=112.0, arrived=113.0, end=None)
    assert [kill_latency(k, [late]) for k in (100.0, 110.0)] == [13.0, 3.0]


def test_a_rule_reading_further_back_than_the_history_is_unavailable() -> None:
    evidence = recorded_evidence("gradual-alerts")
    assert evidence.alerts is not None
    deep = AlertRule("TwoHoursBack", "x - x offset 2h > 0", 0.0, "test", reads=("container_oom_events_total",))
    far = replace(evidence, alerts=replace(evidence.alerts, rules=(deep,)))
    assert rows(far)["TwoHoursBack"] == ("unavailable", None, "reads 120 min back, more than the 31 min of history "
                                                              "Prometheus was given")


def test_the_termination_reason_needs_the_exits_and_the_kills() -> None:
    evidence = recorded_evidence("gradual-alerts")
    blind = replace(evidence, status={**evidence.status,
                                      "kernel_log": SourceStatus.unavailable("engine on another kernel"),
                                      "cgroup": SourceStatus.unavailable("engine on another kernel")})
    verdict, _, note = rows(blind)["KubernetesContainerOomKiller"]
    assert verdict == "unavailable"
    assert note == ("reads kube_pod_container_status_last_terminated_reason, whose source kernel_log or cgroup is "
                    "unavailable: engine on another kernel; engine on another kernel")


def test_assert_alert_fires_says_when_the_rule_could_not_be_judged() -> None:
    result = recorded_result("gradual-alerts")
    run = result.runs[0]
    broken = run.matrix[:-1] + [replace(run.matrix[-1], verdict="unavailable", kills_seen=None,
                                        note="the monitoring stack did not come up: no image")]
    result.runs[0] = replace(run, matrix=broken)
    with pytest.raises(pytest.fail.Exception, match="NodeOomKill could not be judged: the monitoring stack did not"):
        assert_alert_fires(result, "NodeOomKill", within_s=30)


def _without_samples(evidence: object, metric: str, start: float, end: float) -> object:
    """``evidence`` as if Prometheus had not scraped ``metric`` from ``start`` to ``end``."""
    alerts = evidence.alerts  # type: ignore[attr-defined]
    series = tuple(replace(s, points=tuple(p for p in s.points if not start <= p[0] <= end))
                   if s.metric == metric else s for s in alerts.series)
    return replace(evidence, alerts=replace(alerts, series=series))  # type: ignore[type-var]


def test_a_scrape_hole_around_one_kill_leaves_the_other_kills_judged() -> None:
    # Seen in the cgroup v2 guest under emulation: the restart count was not scraped for
    # 11 s around the fourth PID-1 kill. That kill is not judged; the first three are.
    evidence = recorded_evidence("pid1-oom-alerts")
    kills = sorted(k.t for k in evidence.kills)
    metric = "kube_pod_container_status_restarts_total"
    holed = _without_samples(evidence, metric, kills[3] - 0.5, kills[3] + 10.0)
    verdict, seen, note = rows(holed)["MultipleContainersOOMKilled"]
    assert (verdict, seen) == ("gap", 0)
    assert re.search(r"; kill\(s\) 4 not judged: reads kube_pod_container_status_restarts_total, which "
                     r"Prometheus did not scrape for \d+ s around the kill \(scrapes every 1 s\)$", note), note
    row = next(r for r in build_matrix(holed) if r.source == "alert:MultipleContainersOOMKilled")  # type: ignore[arg-type]
    assert row.ground_truth_kills == 3
    # Not scraped around any kill: the rule could not have looked at all.
    blind = _without_samples(evidence, metric, kills[0] - 5.0, kills[-1] + 600.0)
    verdict, seen, note = rows(blind)["MultipleContainersOOMKilled"]
    assert (verdict, seen) == ("unavailable", None) and "did not scrape" in note
