"""The sweep: start variants as the engine's capacity admits them, collect their results,
write the summary whole at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import ResultError
from harness.result import load_result
from harness.sweep import children
from harness.sweep.children import Child
from harness.sweep.schedule import Capacity, Demand, admits, demand
from harness.sweep.summary import SweepSummary, VariantOutcome, outcome_of
from harness.sweep.variants import Variant

Log = Callable[[str], None]
POLL_S = 0.2


def run_sweep(
    file: str, found: list[Variant], out: Path, capacity: Capacity, engine: dict[str, Any],
    repeat: int | None = None, extra_arguments: tuple[str, ...] = (), log: Log = print,
) -> SweepSummary:
    """Run every variant (``harness run`` children) into ``out/<variant folder>`` and return
    the summary. On Ctrl-C or SIGTERM every running child is interrupted and waited for;
    the finished variants' result sets stay whole, and no summary is written."""
    started = time.monotonic()
    pending = list(found)
    running: dict[int, tuple[Variant, Child, Demand]] = {}
    done: dict[int, VariantOutcome] = {}
    arguments = [*extra_arguments, *(["--repeat", str(repeat)] if repeat is not None else [])]
    try:
        while pending or running:
            for index, (variant, child, _) in list(running.items()):
                if (code := child.poll()) is not None:
                    del running[index]
                    done[index] = _outcome(variant, child, code)
                    log(f"sweep: {variant.label}: {_said(done[index])} ({len(done)}/{len(found)})")
            while pending and admits([d for _, _, d in running.values()], demand(pending[0].scenario, capacity),
                                     capacity):
                variant = pending.pop(0)
                child = children.start(file, variant.set_arguments() + arguments, out / variant.folder,
                                       out / "logs" / f"{variant.folder}.log")
                running[variant.index] = (variant, child, demand(variant.scenario, capacity))
                log(f"sweep: started {variant.label} ({len(running)} running)")
            time.sleep(POLL_S)
    except BaseException:
        children.stop_all([child for _, child, _ in running.values()])
        raise
    scenario = found[0].scenario
    return SweepSummary(
        scenario=scenario.name, scenario_file=file,
        settings={s.path: list(s.values) for s, _ in found[0].changes},
        repeat=repeat, capacity=capacity.describe(), engine=engine,
        wall_s=round(time.monotonic() - started, 1), variants=[done[v.index] for v in found],
    )


def _outcome(variant: Variant, child: Child, code: int) -> VariantOutcome:
    values = {setting.path: value for setting, value in variant.changes}
    wall = time.monotonic() - child.started
    try:
        result = load_result(child.out) if code in (0, 1) else None
    except ResultError as exc:
        return outcome_of(variant.index, variant.label, values, variant.folder, code, wall, None, str(exc))
    return outcome_of(variant.index, variant.label, values, variant.folder, code, wall, result,
                      children.first_error(child.log))


def _said(outcome: VariantOutcome) -> str:
    if not outcome.ran:
        return f"exit {outcome.exit_code}: {outcome.error or 'no result'}"
    return f"{outcome.kills} kills, exit {outcome.exit_code}"
