"""A sweep in the cgroup v2 guest: the variants one after another in one boot (the
emulated guest has no spare cores to run them side by side)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.report.files import write_result_set
from harness.sweep.summary import SweepSummary, VariantOutcome, outcome_of
from harness.sweep.variants import Variant


def sweep_in_guest(config: HarnessConfig, file: str, found: list[Variant], out: Path, repeat: int | None,
                   platform: str, log: Callable[[str], None] = print) -> SweepSummary:
    """Run every variant in one guest; each variant's result set is written here."""
    from harness.vm.session import guest_session

    started = time.monotonic()
    outcomes: list[VariantOutcome] = []
    with guest_session(config, [v.scenario for v in found], log) as session:
        engine = dict(session.guest.ready.get("engine", {}))
        for variant in found:
            values = {setting.path: value for setting, value in variant.changes}
            began = time.monotonic()
            try:
                result = session.run(variant.scenario, file)
            except HarnessError as exc:
                outcomes.append(outcome_of(variant.index, variant.label, values, variant.folder, exc.exit_code,
                                           time.monotonic() - began, None, str(exc)))
                continue
            write_result_set(result, out / variant.folder, platform=platform)
            outcomes.append(outcome_of(variant.index, variant.label, values, variant.folder,
                                       0 if result.passed else 1, time.monotonic() - began, result, None))
            log(f"sweep: {variant.label}: {outcomes[-1].kills} kills ({len(outcomes)}/{len(found)})")
    return SweepSummary(
        scenario=found[0].scenario.name, scenario_file=file,
        settings={s.path: list(s.values) for s, _ in found[0].changes}, repeat=repeat,
        capacity="in the guest, one at a time", engine=engine, wall_s=round(time.monotonic() - started, 1),
        variants=outcomes,
    )
