"""Benchmark: speed and fidelity of the harness, on this machine's engine and in the
cgroup v2 guest, side by side.

Runs the gradual and spike scenarios N times each (one run per container) on each side,
then (on the host) every shipped scenario once as its file says, and prints and writes
the figures with the targets they are held to. Not a test: a measurement, rerun with

    .venv/bin/python bench/run.py [--n 3] [--skip-suite] [--where host,guest]
    .venv/bin/python bench/run.py --hog [--runs 5] [--hogs 2] [--only a,b]
    .venv/bin/python bench/run.py --alerts [--n 3]
    .venv/bin/python bench/run.py --faults [--runs 5] [--where host,guest]
    .venv/bin/python bench/run.py --sweep
    .venv/bin/python bench/run.py --boot [--n 3]

``--alerts`` measures the alerting rules: gradual-alerts and pid1-oom-alerts N times under
each timing profile (fast and production), each rule's verdicts and its latency from the
kernel's kill to Alertmanager's notification; it updates the ``alerts`` part.

``--faults`` runs gradual and pid1-oom as a user runs them (``harness run``, a child
process) while one fault is injected at a time (see :mod:`harness.faults`): the engine
restarted mid-run, the container paused, /dev/kmsg flooded around the kill, two runs at
once, CPU hogs. Each run is judged on its exit code, false gaps (against the same
scenario with nothing injected, whose ground truth is the cgroup counter), leaks and its
result set; ``--runs`` trials per fault on the host, 2 in the guest. It updates the
``faults`` part (per side).

``--sweep`` runs a 24-variant sweep of gradual (limits.memory 256Mi..1Gi x workers 1,2,4 x
threads 1,4) as many at once as the engine holds, then the same 24 one after another,
and compares wall times and every variant's kill threshold; then right-size of the
steady buffering workload, with a check run at the limit found and one step below. It
updates the ``sweep`` part.

``--boot`` measures the guest's boot-to-ready (qemu started to the agent's ready file):
N boots from the disk that holds the images already, where the boot's time went
(systemd-analyze, the engine's own log) and how long the first job takes; with
``--compare-load`` (or the first time) one more boot that loads the images the way every
boot used to. It updates the ``guest_boot`` part.

``--hog`` is the determinism mode: every shipped scenario N times (one run each) while
CPU-bound processes compete for the cores, and the pass rate per scenario; it updates
the ``cpu_hog`` part of results.json and leaves the rest as it was.

It needs the engine and the images (``harness setup``) and, for the guest side, the guest
(``harness vm setup``). The guest runs under software emulation where KVM cannot boot it,
so its wall times are not comparable with the host's (the time scale it measured is
reported); its CPU shares are its own CPU, emulated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from harness.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
#: The guest's boot-to-ready target under software emulation (TCG), in seconds.
BOOT_TARGET_S = 30.0
SCENARIOS = ROOT / "scenarios"
Runner = Callable[[Scenario], ScenarioResult]

# name: (target or None for a figure reported without one, "max" or "min", unit, host only)
TARGETS: dict[str, tuple[float | None, str, str, bool]] = {
    "gradual_time_to_matrix_s": (30.0, "max", "s", True),
    "time_to_first_kill_s": (None, "max", "s", False),
    "detection_latency_p50_ms": (250.0, "max", "ms", False),
    "detection_latency_p99_ms": (250.0, "max", "ms", False),
    "peak_capture_ratio_highres": (0.97, "min", "", False),
    "peak_capture_ratio_1m": (None, "min", "", False),
    "collector_cpu_share": (0.01, "max", "of one core", False),
    "suite_wall_s": (300.0, "max", "s", True),
}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed_runs(run: Runner, name: str, n: int) -> tuple[list[ScenarioResult], list[float]]:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", repeat=1)
    results, walls = [], []
    for _ in range(n):
        started = time.monotonic()
        results.append(run(scenario))
        walls.append(time.monotonic() - started)
    return results, walls


def fidelity(results: list[ScenarioResult]) -> dict[str, list[float]]:
    """Per-run figures: detection latencies, peak capture ratios, collector CPU share."""
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


def suite(run: Runner, cgroup_version: str) -> tuple[float, dict[str, Any]]:
    """Every shipped scenario once, as its file says (repeats included); a group-kill
    scenario only where the engine has cgroup v2."""
    started, outcomes = time.monotonic(), {}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        scenario = load_scenario(path)
        if scenario.limits.oom_group and cgroup_version != "2":
            outcomes[path.stem] = {"passed": None, "skipped": "needs cgroup v2 (limits.oom_group)"}
            continue
        t0 = time.monotonic()
        result = run(scenario)
        outcomes[path.stem] = {"passed": result.passed, "wall_s": round(time.monotonic() - t0, 1)}
    return time.monotonic() - started, outcomes


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def measure(run: Runner, n: int, with_suite: bool) -> dict[str, Any]:
    """The figures of one side (host or guest)."""
    gradual, gradual_walls = timed_runs(run, "gradual", n)
    spike, _ = timed_runs(run, "spike", n)
    both, grad = fidelity(gradual + spike), fidelity(gradual)
    suite_wall, outcomes = suite(run, str(gradual[0].engine.get("cgroup_version"))) if with_suite else (None, {})
    runs = [r for x in gradual + spike for r in x.runs]
    return {
        "engine": {k: v for k, v in gradual[0].engine.items() if k != "host"},
        "where": gradual[0].engine.get("host", {"kind": "this machine"}),
        "runs_per_scenario": n,
        "kills_measured": len(both["latency"]),
        "oom_detection": sorted({r.evidence.facts.get("oom_detection", "?") for r in runs}),
        "kernel_clock": sorted({str(r.evidence.facts.get("kernel_clock", "?")) for r in runs}),
        "gradual_time_to_matrix_s": round(statistics.median(gradual_walls), 2),
        "time_to_first_kill_s": _rounded(statistics.median(grad["first_kill"]) if grad["first_kill"] else None, 2),
        "detection_latency_p50_ms": _rounded(percentile(both["latency"], 50), 2),
        "detection_latency_p99_ms": _rounded(percentile(both["latency"], 99), 2),
        "peak_capture_ratio_highres": _rounded(min(both["highres"], default=None), 3),
        "peak_capture_ratio_1m": _rounded(statistics.median(grad["one_minute"]) if grad["one_minute"] else None, 3),
        "collector_cpu_share": _rounded(max(both["cpu"], default=None), 4),
        "suite_wall_s": _rounded(suite_wall, 1),
        "suite": outcomes,
    }


HOG = "while True: pass"


@contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    """``count`` CPU-bound processes for as long as the block runs."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def pass_rates(run: Runner, runs: int, hogs: int, cgroup_version: str, only: set[str]) -> dict[str, Any]:
    """Every shipped scenario ``runs`` times (repeat 1 each) beside ``hogs`` CPU hogs."""
    rates: dict[str, Any] = {}
    with cpu_hogs(hogs):
        for path in sorted(SCENARIOS.glob("*.yaml")):
            if only and path.stem not in only:
                continue
            scenario = load_scenario(path, repeat=1)
            if scenario.limits.oom_group and cgroup_version != "2":
                rates[path.stem] = {"skipped": "needs cgroup v2 (limits.oom_group)"}
                continue
            passed, failures, walls = 0, [], []
            for _ in range(runs):
                t0 = time.monotonic()
                result = run(scenario)
                walls.append(time.monotonic() - t0)
                passed += result.passed
                failures += result.failures[:2]
            rates[path.stem] = {"passed": passed, "runs": runs, "wall_s_median": round(statistics.median(walls), 1),
                                "failures": failures}
            print(f"{path.stem}: {passed}/{runs}" + (f"  {failures[0]}" if failures else ""), flush=True)
    return rates


ALERT_SCENARIOS = ("gradual-alerts", "pid1-oom-alerts")


def alert_figures(results: list[ScenarioResult]) -> dict[str, dict[str, Any]]:
    """Per rule over the runs: how often each verdict, and the latency from the first kill
    to the rule's notification (seconds)."""
    from harness.matrix.alerts import kill_latencies

    found: dict[str, dict[str, Any]] = {}
    for result in results:
        for run in result.runs:
            alerts = run.evidence.alerts
            if alerts is None:
                continue
            for rule in alerts.rules:
                entry = found.setdefault(rule.name, {"origin": rule.origin, "verdicts": {}, "latency_s": []})
                row = run.source(f"alert:{rule.name}")
                entry["verdicts"][row.verdict] = entry["verdicts"].get(row.verdict, 0) + 1
                first = next(iter(kill_latencies(run.evidence, rule.name)), None)
                if first is not None:
                    entry["latency_s"].append(round(first, 2))
    return found


def alerts_main(args: argparse.Namespace, client: Any, config: HarnessConfig) -> int:
    from harness.backends.docker.monitoring import build_monitoring_image

    build_monitoring_image(client, config, log=lambda line: None)
    backend = DockerBackend(client, config)
    info = engine.describe(client)
    started = time.monotonic()
    profiles: dict[str, Any] = {}
    for profile in ("fast", "production"):
        for name in ALERT_SCENARIOS:
            scenario = load_scenario(SCENARIOS / f"{name}.yaml", repeat=1)
            assert scenario.monitoring is not None
            # The production profile's worst case (77 s) must fit the run's wait.
            scenario = scenario.with_monitoring(scenario.monitoring.model_copy(
                update={"profile": profile, "wait": max(scenario.monitoring.wait, 300.0)}))
            results = []
            for _ in range(args.n):
                results.append(run_scenario(scenario, backend, show_progress=False))
                print(f"{profile} {name}: run {len(results)}/{args.n} "
                      f"{'passed' if results[-1].passed else 'FAILED ' + '; '.join(results[-1].failures)[:200]}",
                      flush=True)
            profiles.setdefault(profile, {})[name] = {"passed": sum(r.passed for r in results),
                                                      "rules": alert_figures(results)}
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    report["alerts"] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "engine": {"version": info.version, "cgroup_version": info.cgroup_version, "kernel": info.kernel},
        "runs_per_scenario": args.n, "wall_s": round(time.monotonic() - started, 1), "profiles": profiles,
    }
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    print(render_alerts(report["alerts"]))
    print(f"\nwrote {out}")
    return 0


def render_alerts(alerts: dict[str, Any]) -> str:
    """Rule by scenario: verdicts and notification latency under each profile."""
    rows = []
    profiles = alerts["profiles"]
    names = list(next(iter(next(iter(profiles.values())).values()))["rules"])
    for rule in names:
        for scenario in ALERT_SCENARIOS:
            cells = [rule, scenario]
            for profile in ("fast", "production"):
                entry = profiles.get(profile, {}).get(scenario, {}).get("rules", {}).get(rule)
                if entry is None:
                    cells.append("-")
                    continue
                verdicts = ", ".join(f"{v} {n}" for v, n in sorted(entry["verdicts"].items()))
                lat = entry["latency_s"]
                if lat:
                    verdicts += (f"; {statistics.median(lat):.1f} s ({min(lat):.1f}-{max(lat):.1f})"
                                 if len(lat) > 1 else f"; {lat[0]:.1f} s")
                cells.append(verdicts)
            rows.append(cells)
    eng = alerts["engine"]
    head = (f"alerting rules, {alerts['runs_per_scenario']} runs per scenario and profile, docker "
            f"{str(eng['version']).split('+')[0]}, cgroup v{eng['cgroup_version']}; latency: kill to notification")
    return head + "\n" + tabulate(rows, headers=("rule", "scenario", "fast (1 s)", "production (15 s, 30 s)"))


def hog_main(args: argparse.Namespace, client: Any, config: HarnessConfig) -> int:
    backend = DockerBackend(client, config)
    info = engine.describe(client)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    started = time.monotonic()
    rates = pass_rates(lambda s: run_scenario(s, backend, show_progress=False), args.runs, args.hogs,
                       info.cgroup_version, only)
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    earlier = report.get("cpu_hog", {}).get("scenarios", {}) if only else {}
    measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for rate in rates.values():
        rate["measured_at"] = measured_at
    report["cpu_hog"] = {  # --only re-measures some scenarios and keeps the others' figures
        "measured_at": measured_at,
        "engine": {"version": info.version, "cgroup_version": info.cgroup_version, "kernel": info.kernel},
        "hogs": args.hogs, "runs_per_scenario": args.runs, "wall_s": round(time.monotonic() - started, 1),
        "scenarios": {**earlier, **rates},
    }
    rates = report["cpu_hog"]["scenarios"]
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    rows = [(name, "-" if "skipped" in r else f"{r['passed']}/{r['runs']}", r.get("skipped") or
             (r["failures"][0][:90] if r["failures"] else "")) for name, r in rates.items()]
    print(f"pass rate beside {args.hogs} CPU hogs, docker {info.version}, cgroup v{info.cgroup_version}")
    print(tabulate(rows, headers=("scenario", "passed", "first failure / note")))
    print(f"\nwrote {out}")
    all_passed = all(r.get("passed") == r.get("runs") for r in rates.values() if "skipped" not in r)
    return 0 if all_passed else 1


FAULT_SCENARIOS = ("gradual", "pid1-oom")
GUEST_FAULT_RUNS = 2


def faults_main(args: argparse.Namespace, client: Any, config: HarnessConfig, sides: list[str]) -> int:
    import tempfile

    from harness.faults.inject import FAULTS
    from harness.faults.judge import trials_data, trials_from_data
    from harness.faults.trial import run_faults

    names = [n for n in FAULTS if n != "none"] if not args.only else [n.strip() for n in args.only.split(",")]
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    part = report.setdefault("faults", {})
    for side in sides:
        started = time.monotonic()
        if side == "host":
            info = engine.describe(client)
            work = Path(tempfile.mkdtemp(prefix="oom-harness-faults-"))
            trials = run_faults(names, list(FAULT_SCENARIOS), args.runs, work, client, config)
            if all(t.ok for t in trials):
                shutil.rmtree(work)
            else:  # the result sets and consoles of the failed trials, to read
                print(f"kept the trials' result sets in {work}", file=sys.stderr)
            eng = {"version": info.version, "cgroup_version": info.cgroup_version, "kernel": info.kernel}
            runs = args.runs
        else:
            from harness.vm.session import guest_session

            scenarios = [load_scenario(SCENARIOS / f"{name}.yaml") for name in FAULT_SCENARIOS]
            with guest_session(config, scenarios, log=lambda line: print(line, file=sys.stderr)) as session:
                outcome = session.check("faults", timeout_s=7200.0, faults=names, scenarios=list(FAULT_SCENARIOS),
                                        runs=GUEST_FAULT_RUNS, time_scale=session.time_scale)
                facts = session.guest.ready.get("engine", {})
            trials = trials_from_data(outcome["trials"])
            eng = {k: facts.get(k) for k in ("version", "cgroup_version", "kernel")}
            runs = GUEST_FAULT_RUNS
        part[side] = {
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "engine": eng,
            "runs_per_fault": runs, "scenarios": list(FAULT_SCENARIOS), "wall_s": round(time.monotonic() - started, 1),
            "table": fault_table(trials), "trials": trials_data(trials),
        }
        write_atomic(out, json.dumps(report, indent=2) + "\n")
    print(render_faults(part))
    print(f"\nwrote {out}")
    bad = [row for side in part.values() for row in side["table"] if row["false_gaps"] or row["leaks"]
           or row["broken"] or row["unclear_exits"]]
    return 1 if bad else 0


SWEEP_SETS = ("limits.memory=256Mi,512Mi,768Mi,1Gi", "target.process.workers=1,2,4", "target.process.threads=1,4")


def _harness(*args: str) -> tuple[int, float, str]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, check=False)
    return done.returncode, round(time.monotonic() - started, 1), done.stdout + done.stderr


def sweep_main(args: argparse.Namespace, client: Any) -> int:
    import tempfile

    from harness.sweep.summary import load_summary

    info = engine.describe(client)
    work = Path(tempfile.mkdtemp(prefix="oom-harness-sweep-"))
    sets = [a for s in SWEEP_SETS for a in ("--set", s)]
    walls, summaries = {}, {}
    for mode, extra in (("parallel", []), ("one_at_a_time", ["--parallel", "1"])):
        code, walls[mode], text = _harness("sweep", "gradual", *sets, "--repeat", "1", "--out", str(work / mode),
                                           *extra)
        print(f"sweep {mode}: exit {code}, {walls[mode]} s", flush=True)
        summaries[mode] = load_summary(work / mode)
    thresholds = {mode: {v.label: v.kill_threshold_mb for v in s.variants} for mode, s in summaries.items()}
    differ = [label for label, mb in thresholds["parallel"].items() if thresholds["one_at_a_time"].get(label) != mb]
    sizes = {"blob-buffering-steady": _right_size_with_checks("blob-buffering-steady", work),
             "examples/own-image": _right_size_with_checks(_example_image(client), work)}
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    report["sweep"] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "engine": {"version": info.version, "cgroup_version": info.cgroup_version, "kernel": info.kernel},
        "variants": len(summaries["parallel"].variants), "sets": list(SWEEP_SETS),
        "wall_s": walls, "capacity": summaries["parallel"].capacity,
        "thresholds_differ": differ, "thresholds_mb": thresholds["parallel"],
        "thresholds_mb_one_at_a_time": thresholds["one_at_a_time"],
        "kills": {v.label: v.kills for v in summaries["parallel"].variants},
        "right_size": sizes,
    }
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["sweep"], indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if not differ and all(size.get("limit_mib") for size in sizes.values()) else 1


def boot_main(args: argparse.Namespace, client: Any, config: HarnessConfig) -> int:
    """Boot-to-ready of the guest: from the prepared image disk, and loading at boot."""
    from harness.vm.disks import find_loaded_disk, prepare_loaded_disk
    from harness.vm.image import ensure_guest_image
    from harness.vm.qemu import Guest
    from harness.vm.session import guest_image_tars

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    guest_image = ensure_guest_image(config, log)
    tars = guest_image_tars(client, config, log)
    missing = find_loaded_disk(guest_image, tars) is None
    started = time.monotonic()
    disk = prepare_loaded_disk(config, guest_image, tars, log)
    prepare_s = round(time.monotonic() - started, 1) if missing else None
    boots, uptimes, first_job, profile = [], [], [], {}
    for i in range(max(1, args.n)):
        with Guest(config, guest_image, [], log, disk=disk) as guest:
            boots.append(round(guest.boot_s, 1))
            uptimes.append(round(float(guest.ready.get("uptime_s", 0.0)), 1))
            started = time.monotonic()
            _, outcome = guest.run_job({"kind": "check", "check": "boot_profile"}, 300.0)
            first_job.append(round(time.monotonic() - started, 1))
            if i == 0:
                profile = outcome
            accel = guest.accel
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    loading = report.get("guest_boot", {}).get("loading_at_boot")
    if args.compare_load or loading is None:
        with Guest(config, guest_image, tars, log) as guest:
            loading = {"boot_s": round(guest.boot_s, 1), "images_loaded_s": guest.ready.get("images_loaded_s", {}),
                       "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    report["guest_boot"] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "accel": accel.name, "accel_reason": accel.reason, "guest_image": guest_image.digest,
        "boot_to_ready_s": boots, "boot_to_ready_median_s": statistics.median(boots),
        "guest_uptime_at_ready_s": uptimes, "first_job_s": first_job,
        "prepare_disk_s": prepare_s, "loading_at_boot": loading,
        "systemd_time": profile.get("time"), "systemd_blame": profile.get("blame"),
        "critical_chain": profile.get("critical_chain"), "kernel_cmdline": profile.get("kernel_cmdline"),
        "engine_start": profile.get("engine_start"),
    }
    write_atomic(out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["guest_boot"], indent=2))
    return 0 if statistics.median(boots) < BOOT_TARGET_S else 1


def _example_image(client: Any) -> str:
    """examples/own-image built on the lab image (no registry here); its scenario file."""
    config = HarnessConfig()
    client.images.build(path=str(ROOT / "examples" / "own-image"), tag="oom-harness/example-asgi:latest", rm=True,
                        forcerm=True, buildargs={"BASE_IMAGE": config.image}, labels={config.label: "example"})
    return str(ROOT / "examples" / "own-image" / "own-image.yaml")


def _right_size_with_checks(scenario: str, work: Path) -> dict[str, Any]:
    """``harness right-size`` of one workload (step 64Mi, 2 repeats), then one check run at
    the limit it found and one a step below: kills in each."""
    from harness.result import load_result

    size_dir = work / f"right-size-{Path(scenario).stem}"
    code, wall, text = _harness("right-size", scenario, "--step", "64Mi", "--repeat", "2", "--out", str(size_dir))
    print(text, flush=True)
    found = json.loads((size_dir / "right-size.json").read_text()) if code == 0 else {}
    checks = {}
    if found:
        limit_bytes, step = found["limit_bytes"], found["step_bytes"]
        for name, limit in (("at_limit", limit_bytes), ("step_below", limit_bytes - step)):
            check_out = work / f"check-{Path(scenario).stem}-{name}"
            _harness("run", scenario, "--set", f"limits.memory={limit}", "--repeat", "1", "--out", str(check_out),
                     "--quiet")
            checks[name] = {"limit_mib": limit // 2**20, "kills": load_result(check_out).runs[0].figures.oom_kills}
    return {"exit_code": code, "wall_s": wall, "probes": len(found.get("probes", [])),
            "limit_mib": found.get("limit_bytes", 0) // 2**20,
            "recommended_mib": found.get("recommended_bytes", 0) // 2**20,
            "peak_mb": next((p["peak_mb"] for p in found.get("probes", []) if p["limit_bytes"] == found["limit_bytes"]),
                            []),
            "checks": checks}


def fault_table(trials: list[Any]) -> list[dict[str, Any]]:
    """Per fault: runs, exit codes, false gaps, leaks, result sets, sources that said unavailable."""
    from collections import Counter

    from harness.faults.inject import FAULTS
    from harness.faults.judge import CLEAR_EXITS

    rows = []
    for name, fault in FAULTS.items():
        mine = [t for t in trials if t.fault == name]
        if not mine:
            continue
        unavailable = sorted({u.split(": ")[1].split(":")[0] for t in mine for u in t.unavailable})
        rows.append({
            "fault": name, "what": fault.what, "runs": len(mine),
            "exit_codes": dict(Counter(str(t.exit_code) for t in mine)),
            "unclear_exits": sum(1 for t in mine if t.exit_code not in CLEAR_EXITS),
            "false_gaps": sum(len(t.false_gaps) for t in mine), "leaks": sum(len(t.leaks) for t in mine),
            "whole": sum(1 for t in mine if t.result == "whole"),
            "absent": sum(1 for t in mine if t.result == "absent"),
            "broken": sum(1 for t in mine if t.result.startswith("broken")),
            "kills": sum(t.kills or 0 for t in mine), "unavailable": unavailable,
            "examples": [g for t in mine for g in t.false_gaps + t.leaks][:3],
        })
    return rows


def render_faults(part: dict[str, Any]) -> str:
    blocks = []
    for side, data in part.items():
        eng = data["engine"]
        head = (f"faults, {side}: docker {str(eng.get('version')).split('+')[0]}, cgroup v{eng.get('cgroup_version')}, "
                f"{data['runs_per_fault']} runs per fault over {', '.join(data['scenarios'])}, {data['measured_at']}")
        rows = [(r["fault"], r["runs"], ", ".join(f"{k}x{v}" for k, v in sorted(r["exit_codes"].items())),
                 r["false_gaps"], r["leaks"], f"{r['whole']} whole, {r['absent']} absent, {r['broken']} broken",
                 r["kills"], ", ".join(r["unavailable"]) or "-") for r in data["table"]]
        blocks.append(head + "\n" + tabulate(rows, headers=("fault", "runs", "exit codes", "false gaps", "leaks",
                                                             "result sets", "kills", "said unavailable")))
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="runs of gradual and of spike on each side (default 3)")
    parser.add_argument("--skip-suite", action="store_true", help="leave out the all-scenarios wall time (host)")
    parser.add_argument("--where", default="host,guest", help="host, guest or both (default host,guest)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--hog", action="store_true", help="pass rate of every shipped scenario beside CPU hogs")
    parser.add_argument("--runs", type=int, default=5,
                        help="--hog: runs of each scenario; --faults: trials per fault on the host (default 5)")
    parser.add_argument("--hogs", type=int, default=2, help="--hog: CPU-bound processes (default 2)")
    parser.add_argument("--only", default="", help="--hog: only these scenarios; --faults: only these faults")
    parser.add_argument("--sweep", action="store_true",
                        help="a 24-variant sweep in parallel and one at a time, and right-size of a workload")
    parser.add_argument("--boot", action="store_true",
                        help="the guest's boot-to-ready, with and without its image disk")
    parser.add_argument("--compare-load", action="store_true",
                        help="--boot: also boot once loading the images at boot (kept from the last time otherwise)")
    parser.add_argument("--faults", action="store_true",
                        help="runs under injected faults: exit codes, false gaps, leaks, result sets")
    parser.add_argument("--alerts", action="store_true",
                        help="alerting rules' verdicts and latencies under the fast and production profiles")
    args = parser.parse_args(argv)
    sides = [s.strip() for s in args.where.split(",") if s.strip()]

    config = HarnessConfig()
    client = engine.connect()
    image.build_lab_image(client, config, log=lambda line: None)
    build_ingress_image(client, config, log=lambda line: None)  # for the spike-ingress pair
    if args.hog:
        return hog_main(args, client, config)
    if args.alerts:
        return alerts_main(args, client, config)
    if args.faults:
        return faults_main(args, client, config, sides)
    if args.sweep:
        return sweep_main(args, client)
    if args.boot:
        return boot_main(args, client, config)
    # A partial run (--where host) keeps the parts it did not measure, each with its own date.
    out = Path(args.out)
    report: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    report["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if "host" in sides:
        backend = DockerBackend(client, config)
        report["host"] = measure(lambda s: run_scenario(s, backend, show_progress=False), args.n, not args.skip_suite)
        report["host"]["measured_at"] = report["measured_at"]
    if "guest" in sides:
        from harness.vm.session import guest_session

        scenarios = [load_scenario(SCENARIOS / f"{name}.yaml") for name in ("gradual", "spike")]
        with guest_session(config, scenarios, log=lambda line: print(line, file=sys.stderr)) as session:
            report["guest"] = measure(session.run, args.n, False)
            report["guest"]["time_scale"] = session.time_scale
            report["guest"]["measured_at"] = report["measured_at"]
    report["targets"] = {k: {"target": t, "bound": b, "host_only": h} for k, (t, b, _, h) in TARGETS.items()}
    write_atomic(Path(args.out), json.dumps(report, indent=2) + "\n")
    print(render(report))
    print(f"\nwrote {args.out}")
    return 0


def _met(value: float | None, target: float | None, bound: str) -> bool | None:
    if value is None or target is None:
        return None
    return value <= target if bound == "max" else value >= target


def _side_label(side: dict[str, Any]) -> str:
    eng, where = side["engine"], side["where"]
    at = "host" if where.get("kind") == "this machine" else f"guest ({where.get('accel')})"
    return f"{at}: docker {eng.get('version', '?').split('+')[0]}, cgroup v{eng.get('cgroup_version')}"


def render(report: dict[str, Any]) -> str:
    sides = [k for k in ("host", "guest") if k in report]
    rows = []
    for key, (target, bound, unit, host_only) in TARGETS.items():
        goal = "-" if target is None else f"{'<' if bound == 'max' else '>='} {target:g} {unit}".strip()
        cells = []
        for side in sides:
            value = report[side].get(key)
            met = None if (host_only and side == "guest") else _met(value, target, bound)
            mark = {True: "", False: " MISSED", None: ""}[met]
            cells.append("-" if value is None else f"{value}{mark}")
        rows.append((key, *cells, goal + (" (host)" if host_only and target is not None else "")))
    head = "oom-harness bench, " + "; ".join(
        f"{_side_label(report[s])}, {report[s]['runs_per_scenario']} runs each, {report[s]['kills_measured']} kills"
        for s in sides)
    return head + "\n" + tabulate(rows, headers=("figure", *(_side_label(report[s]) for s in sides), "target"))


if __name__ == "__main__":
    sys.exit(main())
