"""``harness sweep`` and ``harness right-size`` on the real engine, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.result import load_result
from harness.sweep.summary import load_summary

pytestmark = pytest.mark.engine
MIB = 2**20


def _harness(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_two_variants_at_once_each_count_only_their_own_kill(tmp_path: Path) -> None:
    """Two gradual variants run side by side and are killed within about a second of each
    other: each counts its own kill only, at the threshold it has alone (464 MB)."""
    out = tmp_path / "sweep"
    done = _harness("sweep", "gradual", "--set", "target.process.threads=1,4", "--repeat", "1", "--parallel", "2",
                    "--out", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = load_summary(out)
    assert [v.label for v in summary.variants] == ["target.process.threads=1", "target.process.threads=4"]
    results = [load_result(out / v.folder) for v in summary.variants]
    for variant, result in zip(summary.variants, results, strict=True):
        assert variant.exit_code == 0 and variant.kills == 1
        assert variant.kill_threshold_mb == 464.0
        assert result.runs[0].source("cgroup").kills_seen == 1
        assert result.runs[0].source("kernel_log").kills_seen == 1
    first, second = (r.runs[0].evidence for r in results)
    assert first.started_at < second.ended_at and second.started_at < first.ended_at  # they ran at once
    kill_gap = abs(first.kills[0].t - second.kills[0].t)
    assert kill_gap < 3.0, f"the two kills were {kill_gap:.2f} s apart"
    assert "sweep of gradual" in done.stdout and (out / "sweep.png").is_file()
    shown = _harness("show", str(out))
    assert shown.returncode == 0 and "target.process.threads=4" in shown.stdout


def test_right_size_of_the_steady_buffering_workload_with_a_coarse_step(tmp_path: Path) -> None:
    out = tmp_path / "size"
    done = _harness("right-size", "blob-buffering-steady", "--step", "128Mi", "--repeat", "1", "--out", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = json.loads((out / "right-size.json").read_text())
    assert found["schema"] == "oom-harness/right-size/1"
    limit, below = found["limit_bytes"], found["below"]
    assert below is not None and below["kills"] >= 1 and below["limit_bytes"] == limit - 128 * MIB
    at_limit = next(p for p in found["probes"] if p["limit_bytes"] == limit)
    assert at_limit["kills"] == 0 and at_limit["peak_mb"]
    assert found["recommended_bytes"] >= limit * 1.2
    assert "smallest limit with 0 kills in 1 of 1 runs" in done.stdout
