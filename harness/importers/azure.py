"""``harness import``: evidence already exported from Azure, read into the same matrix.

The inputs are the files a support engineer has after an incident: the JSON that
``az monitor log-analytics query`` printed for ContainerAppSystemLogs_CL and
ContainerAppConsoleLogs_CL, what ``az monitor metrics list`` printed for WorkingSetBytes
and RestartCount, what ``az containerapp replica list`` printed, and the client's log
lines. Each is optional; a source with no input is unavailable, with a reason naming the
option that would have given it. The result is a one-run
:class:`~harness.result.ScenarioResult`, written and printed like ``harness run``'s.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from harness.backends.azure import exported, queries
from harness.backends.azure.mapping import Collected, build_evidence
from harness.collectors.client import request_observations
from harness.errors import HarnessError
from harness.evidence import SourceStatus
from harness.importers.client_log import read_client_log
from harness.matrix import aggregate, build_matrix, figures
from harness.result import RunResult, ScenarioResult
from harness.runner.run import settle_console

T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# input -> (command-line option, what it holds)
INPUTS: dict[str, tuple[str, str]] = {
    "system_logs": ("--system-logs", f"`az monitor log-analytics query` JSON of {queries.SYSTEM_TABLE}"),
    "console_logs": ("--console-logs", f"`az monitor log-analytics query` JSON of {queries.CONSOLE_TABLE}"),
    "working_set": ("--working-set", "`az monitor metrics list --metric WorkingSetBytes --interval PT1M` JSON"),
    "restart_count": ("--restart-count", "`az monitor metrics list --metric RestartCount --interval PT1M` JSON"),
    "replicas": ("--replicas", "`az containerapp replica list` JSON"),
    "client_log": ("--client-log", "client log lines (TIME METHOD PATH STATUS|ERROR [LATENCY_MS], or JSON lines)"),
}


@dataclass(frozen=True)
class AzureExport:
    """The exported files of one incident or experiment; any may be None."""

    system_logs: Path | None = None
    console_logs: Path | None = None
    working_set: Path | None = None
    restart_count: Path | None = None
    replicas: Path | None = None
    client_log: Path | None = None
    name: str = "azure-import"

    def given(self) -> dict[str, Path]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in INPUTS and getattr(self, f.name) is not None}


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``harness import``."""
    for name, (option, holds) in INPUTS.items():
        parser.add_argument(option, dest=name, type=Path, metavar="FILE", help=holds)
    parser.add_argument("--name", default="azure-import",
                        help="name of the result (and of its folder under results/), default azure-import")
    parser.add_argument("--out", help="folder for result.json, report.md, matrix.txt (default results/<name>)")


def export_from_args(args: argparse.Namespace) -> AzureExport:
    return AzureExport(**{name: getattr(args, name, None) for name in INPUTS}, name=args.name)


def _read(path: Path | None, part: str, reasons: dict[str, str], read: Callable[[Path], T]) -> T | None:
    if path is None:
        option, _ = INPUTS[part]
        reasons[part] = f"no {option} file given"
        return None
    return read(path)


def collect(export: AzureExport) -> Collected:
    """The exported files read into one :class:`Collected`."""
    reasons: dict[str, str] = {}

    def rows(path: Path) -> list[exported.LogRow]:
        return exported.log_rows(exported.load_json(path), str(path))

    def metric(name: str) -> Callable[[Path], exported.MetricSeries]:
        return lambda path: exported.metric_series(exported.load_json(path), name, str(path))

    system = _read(export.system_logs, "system_logs", reasons, rows)
    console = _read(export.console_logs, "console_logs", reasons, rows)
    working_set = _read(export.working_set, "working_set", reasons, metric(queries.WORKING_SET.metric))
    restart = _read(export.restart_count, "restart_count", reasons, metric(queries.RESTART_COUNT.metric))
    replicas = _read(export.replicas, "replicas", reasons,
                     lambda path: exported.replicas(exported.load_json(path), str(path)))
    # Collected names its parts after what they hold; map the option reasons onto them.
    part_of = {"system_logs": "system_rows", "console_logs": "console_rows", "working_set": "working_set",
               "restart_count": "restart_metric", "replicas": "replicas"}
    return Collected(system, console, working_set, restart, None, replicas,
                     {part_of[k]: v for k, v in reasons.items()})


def import_export(export: AzureExport) -> ScenarioResult:
    """Build the one-run result (evidence, figures, matrix) of an Azure export."""
    if not _NAME.match(export.name):
        raise HarnessError(f"--name {export.name!r} is not a usable name (letters, digits, '.', '_', '-')")
    given = export.given()
    if not given:
        raise HarnessError("nothing to import: give at least one of "
                           + ", ".join(option for option, _ in INPUTS.values()))
    collected = collect(export)
    requests = read_client_log(export.client_log) if export.client_log else []
    times = collected.times() + [r.t for r in requests]
    if not times:
        raise HarnessError("nothing to import: the given files hold no timestamped rows, points or requests")
    started, ended = min(times), max(times)
    evidence = build_evidence(collected, 1, "azure", started, ended, None,
                              facts={"imported_from": {k: str(v) for k, v in given.items()}})
    evidence.requests = requests
    evidence.observations = sorted(evidence.observations + request_observations(requests), key=lambda o: o.t)
    evidence.observations = settle_console(evidence)
    # Requests that change state (POST /start, /spike) mark the load steps, as a run's steps do.
    evidence.marks = [(r.t, f"{i}:http:{r.path}") for i, r in enumerate(requests) if r.method != "GET"]
    evidence.status["client"] = (SourceStatus.ok() if export.client_log
                                 else SourceStatus.unavailable(f"no {INPUTS['client_log'][0]} file given"))
    evidence.status["health_probe"] = SourceStatus.unavailable("exported Azure evidence holds no health probe record")
    matrix = build_matrix(evidence)
    return ScenarioResult(
        scenario=export.name, scenario_file=None,
        engine=_engine(), runs=[RunResult(evidence, figures(evidence), matrix)],
        matrix=aggregate([matrix]), settings={"import": {k: str(v) for k, v in given.items()}},
    )


def _engine() -> dict[str, Any]:
    return {"name": "azure", "version": "import", "platform": "Azure Container Apps (exported evidence)"}


def import_from_args(args: argparse.Namespace) -> ScenarioResult:
    """``harness import``'s result from its parsed options."""
    return import_export(export_from_args(args))
