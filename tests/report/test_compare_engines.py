"""compare names where each result ran: a finding holds only on the engines it was seen on.

The two results are real: gradual on this machine's Docker 20.10 (cgroup v1) and in the
cgroup v2 guest (Docker 26.1.5, systemd driver, under qemu's software emulation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.compare import compare, render_comparison
from harness.diagnose import diagnose, diagnosis_data
from harness.result import load_result

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"


def test_compare_names_the_engine_and_the_cgroup_version_among_the_changes() -> None:
    host, guest = load_result(RESULTS / "gradual.json"), load_result(RESULTS / "gradual-v2.json")
    comparison = compare(host, guest)
    changed = {c.path: (c.a, c.b) for c in comparison.changes}
    assert changed["engine.cgroup_version"] == ("1", "2")
    assert changed["engine.version"] == ("20.10.24+dfsg1", "26.1.5+dfsg1")
    assert changed["engine.host"] == ("this machine", "qemu guest (tcg)")
    assert "engine.cgroup_version: 1 -> 2" in comparison.verdict
    text = render_comparison(comparison)
    assert "engine_state      gap (0/3)      visible (3/3)" in text


def test_a_guest_result_reads_back_and_diagnoses_like_any_other() -> None:
    guest = load_result(RESULTS / "gradual-v2.json")
    assert guest.engine["host"]["accel"] == "tcg" and guest.engine["time_scale"] > 1
    assert guest.source("engine_state").verdict == "visible"
    assert "set while the container kept running" in guest.source("engine_state").note
    assert diagnosis_data(diagnose(guest))["conclusion"]


def test_show_prints_a_stored_result_with_kubernetes_analogues(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["show", str(RESULTS / "gradual-v2.json"), "--platform", "kubernetes"]) == 0
    out = capsys.readouterr().out
    assert "Kubernetes analogue" in out and "in the cgroup v2 guest under qemu (software emulation)" in out
    assert main(["show", str(RESULTS / "nothing.json")]) == 2
