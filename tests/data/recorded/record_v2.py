"""Record, in the cgroup v2 guest, what its kernel and engine write about three kinds of OOM
kill (see README.md, "guest_v2/"). Run as root on a machine where `harness vm setup` ran:

    .venv/bin/python tests/data/recorded/record_v2.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.config import HarnessConfig
from harness.scenario import parse_scenario
from harness.vm.session import guest_session

HERE = Path(__file__).resolve().parent / "guest_v2"


def changes(inspects: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """Each inspection whose State differs from the one before (the engine was polled
    every half second; a run of identical answers is kept once)."""
    kept: list[dict] = []  # type: ignore[type-arg]
    for inspect in inspects:
        if not kept or kept[-1]["State"] != inspect["State"] or kept[-1]["RestartCount"] != inspect["RestartCount"]:
            kept.append(inspect)
    return kept


def write(outcome: dict) -> None:  # type: ignore[type-arg]
    for kind in ("worker_kill", "group_kill", "global_oom"):
        folder = HERE / kind
        folder.mkdir(parents=True, exist_ok=True)
        got = outcome[kind]
        (folder / "container_id.txt").write_text(got["container_id"] + "\n")
        (folder / "kmsg.txt").write_text("".join(line + "\n" for line in got["kmsg"]))
        lines = (json.dumps(i, sort_keys=True) + "\n" for i in changes(got["inspects"]))
        (folder / "inspects.jsonl").write_text("".join(lines))
        for name in ("cgroup_before", "cgroup_after"):
            (folder / f"{name}.json").write_text(json.dumps(got[name], indent=1, sort_keys=True) + "\n")
    (HERE / "engine.json").write_text(json.dumps(outcome["engine"], indent=1, sort_keys=True) + "\n")


def main() -> int:
    lab = parse_scenario({"target": {"image": "labapp"}, "limits": {"memory": "256Mi"}, "steps": [{"sleep": "1s"}]},
                         "record", name="record")
    with guest_session(HarnessConfig(), [lab], log=lambda line: print(line, file=sys.stderr)) as session:
        outcome = session.check("record_oom_kinds")
        outcome["engine"] = {**session.guest.ready["engine"], "host": session.guest.facts()}
    write(outcome)
    print(f"wrote {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
