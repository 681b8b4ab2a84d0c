"""The ``harness`` command: a thin layer over the library.

Exit codes: 0 when everything held, 1 when an expectation failed, 2 for usage, scenario,
image, engine or guest problems, 3 for an internal error (a bug: the traceback goes to a
file), 130 when interrupted. Every error is one line: ``error: ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import HarnessConfig
from harness.errors import HarnessError, UsageError
from harness.jsondata import to_data

if TYPE_CHECKING:
    from harness.result import ScenarioResult
    from harness.scenario import Scenario


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_setup(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Make this machine ready: an engine (installed and started where allowed), the lab
    image, the ingress (HAProxy) image, the reaper's and the monitoring stack's."""
    from harness.backends.docker import engine, image
    from harness.backends.docker.ingress import build_ingress_image
    from harness.backends.docker.monitoring import build_monitoring_image
    from harness.backends.docker.reaper import build_reaper_image

    client = engine.ensure_engine(config, log=_progress)
    info = engine.describe(client)
    _progress(f"engine: {info.name} {info.version}, cgroup v{info.cgroup_version} ({info.cgroup_driver})")
    image.build_lab_image(client, config, log=_progress)
    build_ingress_image(client, config, log=_progress)
    build_reaper_image(client, config, log=_progress)
    build_monitoring_image(client, config, log=_progress)
    return 0


def cmd_image_build(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Build the lab image and the ingress image (online or offline path, cached)."""
    from harness.backends.docker import engine, image
    from harness.backends.docker.ingress import build_ingress_image
    from harness.backends.docker.monitoring import build_monitoring_image
    from harness.backends.docker.reaper import build_reaper_image

    client = engine.connect(config)
    build = image.build_lab_image(client, config, log=_progress, force=args.force)
    print(f"{build.tag} {build.image_id[:19]} ({build.path})")
    print(build_ingress_image(client, config, log=_progress, force=args.force))
    print(build_reaper_image(client, config, log=_progress, force=args.force))
    print(build_monitoring_image(client, config, log=_progress, force=args.force))
    return 0


def cmd_engine_start(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Ensure an engine runs (as root on Debian: install/start dockerd, or with --engine podman its API service)."""
    from harness.backends.docker import engine

    info = engine.describe(engine.ensure_engine(config, log=_progress))
    print(f"{info.name} {info.version} cgroup v{info.cgroup_version} ({info.cgroup_driver})")
    return 0


def docker_backend(config: HarnessConfig, scenario: Scenario):  # type: ignore[no-untyped-def]
    """Connect to the engine and make sure the images the scenario uses are current."""
    from harness.backends.docker import engine
    from harness.backends.docker.backend import DockerBackend, prepare_images

    client = engine.connect(config)
    prepare_images(client, config, scenario, log=_progress)
    return DockerBackend(client, config, log=_progress, time_scale=config.time_scale)


def cmd_vm_setup(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Build (or find) the cgroup v2 guest, and the images it runs; ``--check`` boots it."""
    from harness.backends.docker import engine
    from harness.vm.disks import prepare_loaded_disk
    from harness.vm.image import ensure_guest_image, require_tool
    from harness.vm.session import guest_image_tars, guest_session

    require_tool("qemu-system-x86_64", "qemu-system-x86", _progress)
    guest = ensure_guest_image(config, log=_progress, force=args.force)
    client = engine.ensure_engine(config, log=_progress)
    try:
        tars = guest_image_tars(client, config, _progress)
    finally:
        client.close()
    disk = prepare_loaded_disk(config, guest, tars, _progress)
    print(f"guest {guest.digest}: Debian trixie, kernel {guest.kernel_release}, "
          f"docker.io {guest.packages.get('docker.io', '?')}, images in {disk.name} ({guest.disk.parent})")
    if args.check:
        from harness.scenario import parse_scenario

        lab = parse_scenario({"target": {"image": "labapp"}, "limits": {"memory": "256Mi"},
                              "steps": [{"sleep": "1s"}]}, "vm check", name="vm-check")
        with guest_session(config, [lab], log=_progress, image=guest) as session:
            outcome = session.check("oom_watch")
        print(f"oom watch on a real cgroup v{outcome['cgroup']['version']}: {outcome['detection']}, "
              f"{outcome['kills']} kill(s) counted, {outcome['idle']['wakes']} wakes while idle, "
              f"latency {outcome['latency_ms']} ms, CPU {outcome['cpu_s']} s")
        return 0 if outcome["passed"] else 1
    return 0


def cmd_run(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Run a scenario file, print the gap matrix, write result files."""
    from harness.runner import run_scenario
    from harness.scenario import load_scenario
    from harness.scenario.catalog import resolve_scenario
    from harness.scenario.monitoring import add_monitoring
    from harness.scenario.overrides import Setting

    scenario_file = str(resolve_scenario(args.file))
    changes = [(setting, setting.values[0]) for setting in (Setting.parse(t, many=False) for t in args.set or [])]
    scenario = add_monitoring(load_scenario(scenario_file, repeat=args.repeat, changes=changes), args.monitoring,
                              args.rules)
    if args.vm:
        if args.backend != "docker":
            raise UsageError("--vm runs the scenario on the guest's Docker engine; it cannot be combined with "
                             f"--backend {args.backend}")
        from harness.vm.session import run_in_guest

        return _publish(run_in_guest(config, scenario, scenario_file, log=_progress, engine=args.engine or ""),
                        args.out, args.plot, args.platform)
    if scenario.monitoring is not None and args.backend != "docker":
        raise UsageError("monitoring (a Prometheus and Alertmanager beside the target) runs with the docker "
                         f"backend; --backend {args.backend} has none")
    if args.backend == "azure" or args.dry_run or args.keep:
        from harness.backends.azure.options import backend_from_args

        backend = backend_from_args(args, scenario, log=_progress)
        if backend is None:  # --dry-run printed what it would create and query
            return 0
    else:
        backend = docker_backend(config, scenario)
    result = run_scenario(scenario, backend, scenario_file=scenario_file, show_progress=not args.quiet,
                          time_scale=config.time_scale if args.backend == "docker" else 1.0)
    return _publish(result, args.out, args.plot, args.platform)


def _publish(result: ScenarioResult, out: str | None, plot: bool, platform: str = "azure") -> int:
    """Write the result set (and the timeline) whole, print the report; the exit code."""
    from harness.report import render_text
    from harness.report.files import write_result_set

    out_dir = Path(out) if out else Path("results") / result.scenario
    paths = write_result_set(result, out_dir, plot, platform)
    print(render_text(result, platform))
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0 if result.passed else 1


def cmd_sweep(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Run every combination of the --set values, as many at once as the engine holds; one table."""
    from harness.backends.docker import engine
    from harness.backends.docker.backend import prepare_images
    from harness.report.files import write_atomic
    from harness.report.sweep import render_sweep
    from harness.scenario.catalog import resolve_scenario
    from harness.scenario.overrides import Setting
    from harness.sweep.run import run_sweep
    from harness.sweep.schedule import Capacity
    from harness.sweep.variants import variants

    file = str(resolve_scenario(args.file))
    found = variants(file, [Setting.parse(text) for text in args.set or []], args.repeat)
    if args.parallel is not None and args.parallel < 1:
        raise UsageError(f"--parallel {args.parallel}: give 1 or more")
    out = Path(args.out) if args.out else Path("results") / f"sweep-{found[0].scenario.name}"
    if args.vm:
        from harness.sweep.inguest import sweep_in_guest

        _docker_only_in_guest(args)

        summary = sweep_in_guest(config, file, found, out, args.repeat, args.platform, log=_progress)
    else:
        client = engine.connect(config)
        for variant in found:  # once here, not in every child at once
            prepare_images(client, config, variant.scenario, log=_progress)
        info = client.info()
        capacity = Capacity(float(info.get("NCPU") or os.cpu_count() or 1), int(info.get("MemTotal") or 0),
                            args.parallel or len(found))
        _progress(f"sweep: {len(found)} variants into {out}; {capacity.describe()}")
        summary = run_sweep(file, found, out, capacity, to_data(engine.describe(client)), args.repeat,
                            ("--platform", args.platform), log=_progress)
    write_atomic(out / "sweep.json", json.dumps(to_data(summary), indent=2) + "\n")
    text = render_sweep(summary)
    write_atomic(out / "sweep.txt", text + "\n")
    print(text)
    print(f"\nwrote {out / 'sweep.json'}, {out / 'sweep.txt'}{_sweep_plot(summary, out)}")
    return _worst_exit([v.exit_code for v in summary.variants])


def cmd_right_size(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Bisect limits.memory for the smallest limit with no kill in k of k runs."""
    import time

    from harness.backends.docker import engine
    from harness.backends.docker.backend import prepare_images
    from harness.report.files import write_atomic
    from harness.scenario import load_scenario
    from harness.scenario.catalog import resolve_scenario
    from harness.scenario.units import parse_size
    from harness.sweep.probe import probe_runner
    from harness.sweep.rightsize import RightSize, bisect, recommend, render_right_size

    file = str(resolve_scenario(args.file))
    scenario = load_scenario(file)
    try:
        step = parse_size(args.step)
        high = parse_size(args.high) if args.high else scenario.limits.memory
        low = parse_size(args.low) if args.low else None
    except ValueError as exc:
        raise UsageError(f"right-size: {exc}") from None
    if args.repeat < 1 or not 0 <= args.headroom <= 400:
        raise UsageError("right-size: --repeat must be 1 or more and --headroom 0 to 400 (percent)")
    if low is not None and low >= high:
        raise UsageError(f"right-size: --low ({args.low}) must be below the upper bound ({args.high or 'the file'})")
    out = Path(args.out) if args.out else Path("results") / f"right-size-{scenario.name}"
    client = engine.connect(config)
    prepare_images(client, config, scenario, log=_progress)
    max_bytes = int(client.info().get("MemTotal") or 0) or 2 * high
    started = time.monotonic()
    limit, below, probes = bisect(probe_runner(file, out, args.repeat), high, step, max_bytes, low, log=_progress)
    found = RightSize(scenario.name, file, step, args.repeat, args.headroom / 100, probes, limit, below,
                      recommend(limit, args.headroom / 100, step), to_data(engine.describe(client)),
                      round(time.monotonic() - started, 1))
    write_atomic(out / "right-size.json", json.dumps(to_data(found), indent=2) + "\n")
    print(render_right_size(found))
    print(f"\nwrote {out / 'right-size.json'}")
    return 0


def _sweep_plot(summary: Any, out: Path) -> str:
    """Draw sweep.png where matplotlib is installed; what was written, for the last line."""
    from harness.report.sweep import plot_sweep

    try:
        return f", {plot_sweep(summary, out)}"
    except HarnessError:
        return " (no plot: install the plot extra, pip install 'oom-harness[plot]')"


def _worst_exit(codes: list[int | None]) -> int:
    """One exit code for many runs: an internal error before an engine error before a
    failed expectation; a run that hung counts as an internal error."""
    for code in (3, 2, 1):
        if any((c if c is not None else 3) == code for c in codes):
            return code
    return 0


def cmd_import(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Build the gap matrix from evidence exported from Azure; write and print it like ``run``."""
    from harness.importers.azure import import_from_args

    result = import_from_args(args)
    return _publish(result, args.out, args.plot)


def _is_scenario_file(source: str) -> bool:
    from harness.scenario.catalog import names_a_scenario

    return names_a_scenario(source)


def _result_for(source: str, config: HarnessConfig, quiet: bool):  # type: ignore[no-untyped-def]
    """A result file (or folder) is read; a scenario file is run now."""
    from harness.result import load_result
    from harness.runner import run_scenario
    from harness.scenario import load_scenario
    from harness.scenario.catalog import resolve_scenario

    if _is_scenario_file(source):
        path = str(resolve_scenario(source))
        scenario = load_scenario(path)
        return run_scenario(scenario, docker_backend(config, scenario), path, not quiet)
    return load_result(source)


def _results_in_guest(sources: list[str], config: HarnessConfig) -> list[ScenarioResult]:
    """Results for ``compare --vm``: scenario files run in one guest boot, result files read."""
    from harness.result import load_result
    from harness.scenario import load_scenario
    from harness.scenario.catalog import resolve_scenario
    from harness.vm.session import guest_session

    files = {s: str(resolve_scenario(s)) for s in sources if _is_scenario_file(s)}
    scenarios = {s: load_scenario(path) for s, path in files.items()}
    if not scenarios:
        return [load_result(s) for s in sources]
    with guest_session(config, list(scenarios.values()), log=_progress) as session:
        return [session.run(scenarios[s], files[s]) if s in scenarios else load_result(s) for s in sources]


def _docker_only_in_guest(args: argparse.Namespace) -> None:
    if args.engine == "podman":
        raise UsageError(f"{args.command} --vm runs on the guest's Docker engine; only `harness run --vm` "
                         "takes --engine podman")


def cmd_compare(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Compare two results (or run two scenarios back to back) and give the falsification verdict."""
    import json

    from harness.compare import compare, comparison_data, render_comparison
    from harness.report.files import write_atomic

    if args.vm:
        _docker_only_in_guest(args)
        a, b = _results_in_guest([args.a, args.b], config)
    else:
        a, b = _result_for(args.a, config, args.quiet), _result_for(args.b, config, args.quiet)
    comparison = compare(a, b)
    platform = args.platform
    text = render_comparison(comparison, platform=platform)
    if args.out:
        out = Path(args.out)
        write_atomic(out / "compare.json", json.dumps(comparison_data(comparison), indent=2) + "\n")
        markdown = render_comparison(comparison, "github", platform)
        write_atomic(out / "compare.md", "# oom-harness compare\n\n" + markdown + "\n")
    print(text)
    return 0


def cmd_diagnose(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Walk the memory-leak playbook's tree on a result file; 0 whatever it concludes."""
    import json

    from harness.diagnose import diagnose, diagnosis_data, render_diagnosis
    from harness.result import load_result

    diagnosis = diagnose(load_result(args.result))
    print(json.dumps(diagnosis_data(diagnosis), indent=2) if args.json else render_diagnosis(diagnosis))
    return 0


def cmd_show(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Print a stored result's report again, e.g. with another platform's analogues."""
    from harness.report import render_text
    from harness.result import load_result
    from harness.sweep.summary import is_sweep, load_summary

    if is_sweep(args.result):
        from harness.report.sweep import render_sweep

        print(render_sweep(load_summary(args.result)))
        return 0
    print(render_text(load_result(args.result), args.platform))
    return 0


def cmd_schema(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Print the JSON Schema of a file the harness writes (result.json by default)."""
    from harness.report.schema import schema_text

    sys.stdout.write(schema_text(args.what))
    return 0


def cmd_scenarios(args: argparse.Namespace, config: HarnessConfig) -> int:
    """List the shipped scenarios, or print one (``show NAME``) to copy and edit."""
    from harness.scenario.catalog import shipped_scenarios, shipped_text

    if args.name:
        print(shipped_text(args.name), end="")
        return 0
    shipped = shipped_scenarios()
    width = max((len(s.name) for s in shipped), default=0)
    for scenario in shipped:
        print(f"{scenario.name:<{width}}  {scenario.summary}")
    print("\nrun one with `harness run NAME`; `harness scenarios show NAME` prints it to copy and edit")
    return 0


def cmd_clean(args: argparse.Namespace, config: HarnessConfig) -> int:
    """Remove the containers and networks the harness made: this user's, or everyone's
    with ``--all`` (also those of harnesses still running)."""
    from harness.backends.docker import engine
    from harness.backends.docker.owner import remove_labelled

    only = () if args.all else (f"{config.label}.user={config.user}",)
    removed = remove_labelled(engine.connect(config), config.label, only)
    print(f"removed {len(removed)} container(s) and network(s)" + (f": {' '.join(removed)}" if removed else ""))
    return 0


def _platform_option(parser: argparse.ArgumentParser, default: str | None = "azure") -> None:
    parser.add_argument("--platform", choices=("azure", "kubernetes"), default=default,
                        help="whose analogues the matrix names: Azure Container Apps (default) or Kubernetes")


def _engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=("docker", "podman"),
                        help="the engine to use and insist on: docker, or podman (its Docker-compatible API "
                             "service, which `harness setup --engine podman` starts); default: whichever "
                             "DOCKER_HOST or the local Docker socket offers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Reproduce container OOM-kill observability gaps locally and print the gap matrix.",
    )
    parser.add_argument("--version", action="version", version=f"harness {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    setup = sub.add_parser("setup", help="start (or install) an engine (Docker, or Podman with --engine podman) "
                                         "and build the lab, ingress, reaper and monitoring images")
    _engine_option(setup)
    setup.set_defaults(func=cmd_setup)

    eng = sub.add_parser("engine", help="container engine commands")
    eng_sub = eng.add_subparsers(dest="engine_command", required=True)
    start = eng_sub.add_parser(
        "start", help="ensure a Docker engine answers (installs/starts dockerd as root on Debian)")
    _engine_option(start)
    start.set_defaults(func=cmd_engine_start)

    img = sub.add_parser("image", help="image commands")
    img_sub = img.add_subparsers(dest="image_command", required=True)
    build = img_sub.add_parser("build", help="build the lab and ingress images (offline when no registry answers)")
    build.add_argument("--force", action="store_true", help="rebuild even when the sources are unchanged")
    _engine_option(build)
    build.set_defaults(func=cmd_image_build)

    run = sub.add_parser("run", help="run a scenario (a shipped one by name, or a file) and print the gap matrix")
    run.add_argument("file", help="a shipped scenario's name (`harness scenarios` lists them), e.g. gradual, "
                                  "or a scenario YAML file")
    run.add_argument("--out", help="folder for result.json, report.md, matrix.txt (default results/<scenario>)")
    run.add_argument("--repeat", type=int, help="number of runs (overrides the file's repeat)")
    run.add_argument("--quiet", action="store_true", help="no live progress line")
    run.add_argument("--plot", action="store_true", help="also draw timeline.png/.svg (needs the plot extra)")
    run.add_argument("--backend", choices=("docker", "azure"), default="docker",
                     help="where to run: the local Docker engine (default) or Azure Container Apps")
    run.add_argument("--dry-run", action="store_true",
                     help="print the resources it would create and the queries it would send, then stop (azure)")
    run.add_argument("--keep", action="store_true", help="keep the cloud resources after the run (azure)")
    _platform_option(run)
    run.add_argument("--monitoring", nargs="?", const="fast", choices=("fast", "production"),
                     help="run a Prometheus and Alertmanager beside the target and add a matrix row per alerting "
                          "rule (profile fast: every 1 s, the default; production: every 15 s, group_wait 30 s)")
    run.add_argument("--rules", action="append", metavar="FILE",
                     help="a Prometheus rules file to evaluate too (implies --monitoring; repeatable)")
    run.add_argument("--vm", action="store_true",
                     help="run in the cgroup v2 guest (Debian trixie, Docker 26) that `harness vm setup` builds")
    run.add_argument("--set", action="append", metavar="PATH=VALUE",
                     help="change one field of the scenario, e.g. limits.memory=256Mi (repeatable)")
    from harness.backends.azure.options import add_run_options

    add_run_options(run)
    _engine_option(run)
    run.set_defaults(func=cmd_run)

    sweep = sub.add_parser("sweep", help="run every combination of --set values (in parallel) and print one table")
    sweep.add_argument("file", help="a shipped scenario's name or a scenario YAML file")
    sweep.add_argument("--set", action="append", metavar="PATH=V1,V2",
                       help="a field and the values it takes, e.g. limits.memory=256Mi,512Mi (repeatable: "
                            "every combination runs)")
    sweep.add_argument("--out", help="folder for one result set per variant and sweep.json (default "
                                     "results/sweep-<scenario>)")
    sweep.add_argument("--repeat", type=int, help="runs of each variant (overrides the file's repeat)")
    sweep.add_argument("--parallel", type=int, help="at most this many variants at once (default: as many as "
                                                    "the engine's CPUs and memory hold)")
    sweep.add_argument("--vm", action="store_true",
                       help="run the variants in the cgroup v2 guest, one after another (one boot)")
    _platform_option(sweep)
    _engine_option(sweep)
    sweep.set_defaults(func=cmd_sweep)

    size = sub.add_parser("right-size", help="find the smallest memory limit with no OOM kill, by experiment")
    size.add_argument("file", help="a shipped scenario's name or a scenario YAML file")
    size.add_argument("--high", help="upper bound (default the file's limits.memory; doubled until it runs clean)")
    size.add_argument("--low", help="lower bound (default half the peak seen at the upper bound)")
    size.add_argument("--step", default="32Mi", help="the answer's precision (default 32Mi)")
    size.add_argument("--repeat", type=int, default=2, help="runs per probe; a probe passes with 0 kills in all "
                                                            "(default 2)")
    size.add_argument("--headroom", type=float, default=20.0,
                      help="percent added to the limit found for the recommendation (default 20)")
    size.add_argument("--out", help="folder for the probes' result sets and right-size.json "
                                    "(default results/right-size-<scenario>)")
    _engine_option(size)
    size.set_defaults(func=cmd_right_size)

    imp = sub.add_parser("import", help="build the gap matrix from evidence exported from Azure (az CLI JSON)")
    from harness.importers.azure import add_options as add_import_options

    add_import_options(imp)
    imp.add_argument("--plot", action="store_true", help="also draw timeline.png/.svg (needs the plot extra)")
    imp.set_defaults(func=cmd_import)

    cmp = sub.add_parser("compare", help="compare two results, or run two scenarios back to back")
    cmp.add_argument("a", help="result.json (or its folder), or a scenario (file or shipped name) to run")
    cmp.add_argument("b", help="result.json (or its folder), or a scenario (file or shipped name) to run")
    cmp.add_argument("--out", help="folder for compare.json and compare.md")
    cmp.add_argument("--quiet", action="store_true", help="no live progress line while running scenarios")
    _platform_option(cmp, default=None)
    cmp.add_argument("--vm", action="store_true", help="run scenario files in the cgroup v2 guest (one boot for both)")
    _engine_option(cmp)
    cmp.set_defaults(func=cmd_compare)

    vm = sub.add_parser("vm", help="the cgroup v2 guest (Debian trixie under qemu, Docker 26, systemd driver)")
    vm_sub = vm.add_subparsers(dest="vm_command", required=True)
    vm_setup = vm_sub.add_parser("setup", help="build or find the guest and the images it runs (offline)")
    vm_setup.add_argument("--force", action="store_true", help="rebuild the guest even when its inputs are unchanged")
    vm_setup.add_argument("--check", action="store_true",
                          help="boot it and check the OOM watch on a real cgroup v2 kill")
    vm_setup.set_defaults(func=cmd_vm_setup)

    diag = sub.add_parser(
        "diagnose", help="walk the memory-leak playbook on a result: leak, peak demand or another cause")
    diag.add_argument("result", help="a result.json (or the folder holding one) from any backend")
    diag.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    diag.set_defaults(func=cmd_diagnose)

    show = sub.add_parser("show", help="print a stored result's report (e.g. with --platform kubernetes)")
    show.add_argument("result", help="a result.json (or the folder holding one)")
    _platform_option(show)
    show.set_defaults(func=cmd_show)

    scen = sub.add_parser("scenarios", help="list the shipped scenarios; `scenarios show NAME` prints one")
    scen_sub = scen.add_subparsers(dest="scenarios_command")
    scen_show = scen_sub.add_parser("show", help="print a shipped scenario, to copy and edit")
    scen_show.add_argument("name", help="the scenario's name, e.g. gradual")
    scen.set_defaults(func=cmd_scenarios, name=None)

    schema = sub.add_parser("schema", help="print the JSON Schema of a file the harness writes")
    schema.add_argument("what", nargs="?", default="result", choices=("result", "sweep", "right-size", "compare",
                                                                      "diagnose"),
                        help="result: result.json (the default); sweep: sweep.json; right-size: right-size.json; "
                             "compare: compare.json; diagnose: harness diagnose --json")
    schema.set_defaults(func=cmd_schema)

    clean = sub.add_parser("clean", help="remove this user's containers and networks made by the harness")
    clean.add_argument("--all", action="store_true", help="every user's, not only this user's")
    _engine_option(clean)
    clean.set_defaults(func=cmd_clean)
    return parser


def _version() -> str:
    """The installed distribution's version (the package's own when run from a bare tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("oom-harness")
    except PackageNotFoundError:
        from harness import __version__

        return __version__


_interrupts = 0

#: What the second interrupt says, while the clean-up the first one started goes on.
STILL_CLEANING = ("interrupted again: still removing what the run started (containers, networks, the guest); "
                  "press Ctrl-C once more to exit now and leave the rest to the reaper and the next start")


def _interrupt(signum: int, frame: object) -> None:
    """The first Ctrl-C, SIGTERM (CI cancelling, `timeout`) or SIGHUP (a closed terminal)
    unwinds the run, so every context manager removes what it started. The second says
    that the clean-up goes on and does not cut it short; the third exits at once (130):
    whatever is left, the reaper removes after its time-out, or the next start does."""
    global _interrupts
    _interrupts += 1
    if _interrupts == 1:
        raise KeyboardInterrupt
    if _interrupts == 2:
        os.write(2, f"\n{STILL_CLEANING}\n".encode())
        return
    os.write(2, b"\nerror: interrupted three times: exiting without finishing the clean-up\n")
    os._exit(130)


def install_signal_handlers() -> None:
    """Ctrl-C, SIGTERM and SIGHUP as :func:`_interrupt` handles them (counting anew)."""
    global _interrupts
    _interrupts = 0
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = HarnessConfig()
    if getattr(args, "engine", None):
        config = replace(config, engine=args.engine)
    install_signal_handlers()
    try:
        return int(args.func(args, config))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `harness scenarios | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug in the harness: one line, the traceback in a file
        log = _write_traceback(Path(getattr(args, "out", None) or "results"), config)
        print(f"error: internal error ({type(exc).__name__}: {exc}); traceback in {log}", file=sys.stderr)
        return 3


def _write_traceback(results: Path, config: HarnessConfig) -> Path:
    """Keep the traceback of an internal error beside the results (the command's --out,
    else ./results), where the user finds it to attach to a report; the cache folder when
    that cannot be written."""
    import tempfile
    import traceback

    text = traceback.format_exc()
    for folder in (results, config.vm_dir.parent, Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "harness-internal-error.log"
            path.write_text(text)
            return path
        except OSError:
            continue
    return Path("/dev/stderr")


if __name__ == "__main__":
    sys.exit(main())
