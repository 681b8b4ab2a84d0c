"""The fake backend itself: scripted live values, fresh evidence per run, always left cleanly."""

from __future__ import annotations

import pytest

from harness.backends.base import Backend, LiveStatus
from harness.backends.fake import FAKE_URL, IDLE, FakeBackend, FakeScript, kills_after, scripted_evidence
from harness.evidence import Observation, RunEvidence
from harness.scenario import Scenario, parse_scenario
from harness.sources import source_ids


@pytest.fixture
def scenario() -> Scenario:
    return parse_scenario({"target": {}, "limits": {"memory": "64m"}, "steps": ["wait_healthy"]}, "fake.yaml")


def test_it_is_a_backend() -> None:
    backend: Backend = FakeBackend()
    assert backend.name == "fake"


def test_live_plays_the_script_and_repeats_the_last_value(scenario: Scenario) -> None:
    with FakeBackend(FakeScript(live=kills_after(2, kills=3))).launch(scenario, 1) as session:
        assert session.base_url == FAKE_URL
        assert [session.live().kills for _ in range(5)] == [0, 0, 3, 3, 3]
        assert session.live_calls == 5


def test_kills_after_can_also_exit() -> None:
    assert kills_after(1, exited=True) == [IDLE, LiveStatus(1, None, None, True)]


def test_each_run_gets_a_fresh_numbered_copy_of_the_evidence(scenario: Scenario) -> None:
    scripted = scripted_evidence([1.0])
    backend = FakeBackend(FakeScript(evidence=scripted))
    with backend.launch(scenario, 1) as first:
        one = first.finish()
    with backend.launch(scenario, 2) as second:
        two = second.finish()
    one.observations.append(Observation("client", 2.0, "error", True))
    assert (one.run, two.run, scripted.run) == (1, 2, 1)
    assert len(two.observations) == len(scripted.observations) == 1


def test_evidence_may_depend_on_the_run(scenario: Scenario) -> None:
    def per_run(run: int) -> RunEvidence:
        return scripted_evidence([float(t) for t in range(run)])

    backend = FakeBackend(FakeScript(evidence=per_run))
    kills = []
    for run in (1, 2, 3):
        with backend.launch(scenario, run) as session:
            kills.append(len(session.finish().kills))
    assert kills == [1, 2, 3]


def test_leaving_the_block_on_an_error_still_closes_the_session(scenario: Scenario) -> None:
    backend = FakeBackend()
    with pytest.raises(RuntimeError), backend.launch(scenario, 1):
        assert backend.active == 1
        raise RuntimeError("step blew up")
    assert backend.active == 0 and len(backend.sessions) == 1


def test_scripted_evidence_marks_sources_and_counts_kills() -> None:
    evidence = scripted_evidence([1.0, 2.0], unavailable={"kernel_log": "no kmsg"})
    assert set(evidence.status) == set(source_ids())
    assert not evidence.available("kernel_log") and evidence.status["kernel_log"].reason == "no kmsg"
    assert [o.detail["counter"] for o in evidence.of("cgroup")] == [1, 2]
    assert [k.t for k in evidence.kills] == [1.0, 2.0]
    assert scripted_evidence([1.0], unavailable={"cgroup": "none"}).of("cgroup") == []


def test_describe_returns_a_copy() -> None:
    backend = FakeBackend(engine={"name": "fake", "version": "1"})
    backend.describe()["version"] = "changed"
    assert backend.describe() == {"name": "fake", "version": "1"}
