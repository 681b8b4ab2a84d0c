"""The sweep's table (one line per variant, then every source's verdict) and its plot
(kills and peak against the variants)."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from harness.report.plot import pyplot
from harness.sweep.summary import SweepSummary, VariantOutcome

SHORT = {"visible": "visible", "partial": "partial", "gap": "GAP", "misleading": "MISLEAD", "unavailable": "n/a",
         "none": "-"}


def render_sweep(summary: SweepSummary) -> str:
    """Both tables, with what the sweep ran on."""
    engine = summary.engine
    head = (f"sweep of {summary.scenario} ({summary.scenario_file}): {len(summary.variants)} variants, "
            f"{summary.capacity}; docker {str(engine.get('version', '?')).split('+')[0]}, "
            f"cgroup v{engine.get('cgroup_version', '?')}; {summary.wall_s:g} s")
    rows = [(v.index, v.label, _ended(v), _num(v.kills), _num(v.kill_threshold_mb), _num(v.time_to_oom_s),
             _num(v.peak_mb)) for v in summary.variants]
    table = tabulate(rows, headers=("#", "variant", "run", "kills", "killed at MB", "time to OOM s", "peak MB"))
    sources = list(dict.fromkeys(s for v in summary.variants for s in v.verdicts))
    verdicts = tabulate([(v.index, *(SHORT.get(v.verdicts.get(s, ""), "") for s in sources))
                         for v in summary.variants], headers=("#", *sources))
    return f"{head}\n{table}\n\nwhich source saw the kills, per variant:\n{verdicts}"


def plot_sweep(summary: SweepSummary, out_dir: Path) -> Path:
    """``sweep.png``: kills (bars) and peak memory (line) of each variant."""
    plt = pyplot()
    variants = summary.variants
    labels = [v.label.replace(" ", "\n") for v in variants]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(variants) + 2), 4.2))
    xs = list(range(len(variants)))
    ax.bar(xs, [v.kills or 0 for v in variants], color="#c0392b", alpha=0.75, label="OOM kills")
    ax.set_ylabel("OOM kills")
    ax.set_xticks(xs, labels, fontsize=7)
    peak = ax.twinx()
    peak.plot(xs, [v.peak_mb if v.peak_mb is not None else float("nan") for v in variants], "o-",
              color="#2c3e50", label="peak MB")
    peak.set_ylabel("peak memory (MB)")
    ax.set_title(f"sweep of {summary.scenario}: kills and peak per variant")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path, tmp = out_dir / "sweep.png", out_dir / ".sweep.tmp.png"
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    plt.close(fig)
    return path


def _ended(variant: VariantOutcome) -> str:
    if variant.exit_code == 0:
        return "passed"
    if variant.exit_code == 1:
        return "expectations failed"
    return f"exit {variant.exit_code}: {(variant.error or 'no result')[:60]}"


def _num(value: float | int | None) -> str:
    return "-" if value is None else f"{value:g}"
