"""The memory timeline: the sawtooth the labs describe, seen at a glance.

One panel per run: memory usage sampled at high resolution, the 1-minute average a
platform metric would show, the limit, each kill, and each new worker PID. Written as
PNG and SVG. matplotlib is an optional extra (``pip install '.[plot]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.evidence import RunEvidence
from harness.matrix.truth import ground_truth
from harness.result import ScenarioResult
from harness.units import MIB

NEW_PROCESS_KINDS = ("worker_boot", "supervisor_start")


def plot_timeline(result: ScenarioResult, out_dir: Path, stem: str = "timeline") -> list[Path]:
    """Draw the timeline of every run; return the PNG and SVG paths."""
    plt = pyplot()
    runs = result.runs
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 3.2 * len(runs)), squeeze=False, sharex=False)
    for ax, run in zip(axes[:, 0], runs, strict=False):
        _draw_run(ax, run.evidence, f"{result.scenario}, run {run.evidence.run}")
    axes[-1, 0].set_xlabel("seconds since the container started")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in ("png", "svg"):
        path = out_dir / f"{stem}.{suffix}"
        tmp = out_dir / f".{stem}.tmp.{suffix}"
        fig.savefig(tmp, dpi=110)
        tmp.replace(path)
        paths.append(path)
    plt.close(fig)
    return paths


def pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise HarnessError("--plot needs matplotlib: pip install '.[plot]'") from exc
    return plt


def _draw_run(ax: Any, evidence: RunEvidence, title: str) -> None:
    t0 = evidence.started_at
    samples = [(s.t - t0, s.usage_bytes / MIB) for s in evidence.samples if s.usage_bytes is not None]
    if samples:
        ax.plot(*zip(*samples, strict=False), color="tab:blue", linewidth=1.0, label="usage, high resolution")
    end = max((t for t, _ in samples), default=evidence.ended_at - t0)
    _draw_one_minute(ax, evidence, t0, end)
    if evidence.memory_limit_bytes:
        ax.axhline(evidence.memory_limit_bytes / MIB, color="black", linestyle="--", linewidth=0.8, label="limit")
    for i, t in enumerate(ground_truth(evidence).times):
        ax.axvline(t - t0, color="tab:red", linewidth=1.2, label="OOM kill" if i == 0 else None)
    for obs in evidence.of("console_logs"):
        if obs.kind in NEW_PROCESS_KINDS and "pid" in obs.detail:
            ax.annotate(f"pid {obs.detail['pid']}", (obs.t - t0, 0), xytext=(2, 4), textcoords="offset points",
                        fontsize=7, color="tab:green", rotation=90)
            ax.axvline(obs.t - t0, color="tab:green", linewidth=0.6, linestyle=":")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("MB")
    ax.set_xlim(left=0, right=max(end, 1.0))
    ax.set_ylim(bottom=0)
    ax.legend(loc="center right", fontsize=7)
    ax.grid(alpha=0.3)


def _draw_one_minute(ax: Any, evidence: RunEvidence, t0: float, end: float) -> None:
    """Each 1-minute average as a flat segment over the part of its minute in view."""
    for i, (start, avg) in enumerate(evidence.one_minute):
        lo, hi = max(start - t0, 0.0), min(start + 60 - t0, end)
        if hi > lo:
            ax.hlines(avg / MIB, lo, hi, colors="tab:orange", linewidth=2.0,
                      label="1-minute average (platform metric)" if i == 0 else None)
