"""Benchmark: speed and fidelity of the harness on this machine.

Runs the gradual and spike scenarios N times each (one run per container), then every
shipped scenario once as its file says, and prints and writes the figures with the
targets they are held to. Not a test: a measurement, rerun with

    .venv/bin/python bench/run.py [--n 5] [--skip-suite]

It needs the engine and the lab image (``harness setup``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.backends.docker import engine, image
from harness.backends.docker.backend import DockerBackend
from harness.backends.docker.ingress import build_ingress_image
from harness.config import HarnessConfig
from harness.report.files import write_atomic
from harness.result import ScenarioResult
from harness.runner import run_scenario
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"

# name: (target or None for a figure reported without one, "max" or "min", unit)
TARGETS: dict[str, tuple[float | None, str, str]] = {
    "gradual_time_to_matrix_s": (30.0, "max", "s"),
    "time_to_first_kill_s": (None, "max", "s"),
    "detection_latency_p50_ms": (250.0, "max", "ms"),
    "detection_latency_p99_ms": (250.0, "max", "ms"),
    "peak_capture_ratio_highres": (0.97, "min", ""),
    "peak_capture_ratio_1m": (None, "min", ""),
    "sampler_cpu_share": (0.03, "max", "of one core"),
    "suite_wall_s": (300.0, "max", "s"),
}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed_runs(backend: DockerBackend, name: str, n: int) -> tuple[list[ScenarioResult], list[float]]:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", repeat=1)
    results, walls = [], []
    for _ in range(n):
        started = time.monotonic()
        results.append(run_scenario(scenario, backend, show_progress=False))
        walls.append(time.monotonic() - started)
    return results, walls


def fidelity(results: list[ScenarioResult]) -> dict[str, list[float]]:
    """Per-run figures: detection latencies, peak capture ratios, sampler CPU share."""
    out: dict[str, list[float]] = {"latency": [], "highres": [], "one_minute": [], "cpu": [], "first_kill": []}
    for result in results:
        for run in result.runs:
            fig, facts = run.figures, run.evidence.facts
            out["latency"] += fig.detection_latency_ms
            if fig.peak_mb:
                out["highres"].append((fig.peak_highres_mb or 0) / fig.peak_mb)
                out["one_minute"].append((fig.peak_1m_avg_mb or 0) / fig.peak_mb)
            cpu = facts.get("collector_cpu_s", {})
            if facts.get("sampled_s"):
                out["cpu"].append(sum(cpu.values()) / facts["sampled_s"])
            if fig.time_to_oom_s is not None:
                out["first_kill"].append(fig.time_to_oom_s)
    return out


def suite(backend: DockerBackend) -> tuple[float, dict[str, Any]]:
    """Every shipped scenario once, as its file says (repeats included)."""
    started, outcomes = time.monotonic(), {}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        t0 = time.monotonic()
        result = run_scenario(load_scenario(path), backend, show_progress=False)
        outcomes[path.stem] = {"passed": result.passed, "wall_s": round(time.monotonic() - t0, 1)}
    return time.monotonic() - started, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="runs of gradual and of spike (default 3)")
    parser.add_argument("--skip-suite", action="store_true", help="leave out the all-scenarios wall time")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args(argv)

    config = HarnessConfig()
    client = engine.connect()
    image.build_lab_image(client, config, log=lambda line: None)
    build_ingress_image(client, config, log=lambda line: None)  # for the spike-ingress pair
    backend = DockerBackend(client, config)
    info = backend.describe()

    gradual, gradual_walls = timed_runs(backend, "gradual", args.n)
    spike, _ = timed_runs(backend, "spike", args.n)
    fid = fidelity(gradual + spike)
    grad = fidelity(gradual)
    suite_wall, outcomes = (None, {}) if args.skip_suite else suite(backend)

    figures = {
        "gradual_time_to_matrix_s": round(statistics.median(gradual_walls), 2),
        "time_to_first_kill_s": round(statistics.median(grad["first_kill"]), 2),
        "detection_latency_p50_ms": round(percentile(fid["latency"], 50), 2),
        "detection_latency_p99_ms": round(percentile(fid["latency"], 99), 2),
        "peak_capture_ratio_highres": round(min(grad["highres"]), 3),
        "peak_capture_ratio_1m": round(statistics.median(grad["one_minute"]), 3),
        "sampler_cpu_share": round(max(fid["cpu"]), 4),
        "suite_wall_s": None if suite_wall is None else round(suite_wall, 1),
    }
    report = {
        "engine": info,
        "runs_per_scenario": args.n,
        "kills_measured": len(fid["latency"]),
        "oom_detection": sorted({r.evidence.facts.get("oom_detection", "?") for x in gradual + spike for r in x.runs}),
        **figures,
        "targets": {k: {"target": t, "bound": b, "met": _met(figures[k], t, b)} for k, (t, b, _) in TARGETS.items()},
        "suite": outcomes,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_atomic(Path(args.out), json.dumps(report, indent=2) + "\n")
    print(render(report))
    print(f"\nwrote {args.out}")
    return 0


def _met(value: float | None, target: float | None, bound: str) -> bool | None:
    if value is None or target is None:
        return None
    return value <= target if bound == "max" else value >= target


def render(report: dict[str, Any]) -> str:
    rows = []
    for key, (target, bound, unit) in TARGETS.items():
        met = report["targets"][key]["met"]
        goal = "-" if target is None else f"{'<' if bound == 'max' else '>='} {target:g} {unit}".strip()
        status = "" if target is None else {True: "met", False: "MISSED", None: "not run"}[met]
        rows.append((key, report[key], goal, status))
    head = (f"oom-harness bench: docker {report['engine'].get('version')}, cgroup v{report['engine'].get('cgroup_version')}, "
            f"{report['runs_per_scenario']} runs each, {report['kills_measured']} kills, detection {', '.join(report['oom_detection'])}")
    return head + "\n" + tabulate(rows, headers=("figure", "value", "target", ""))


if __name__ == "__main__":
    sys.exit(main())
