"""The guest's agent: started by systemd at boot, it loads the images the host saved,
says it is ready, then runs the host's jobs one at a time.

The host and the guest talk through the shared folder only (no network):

- ``ready.json`` (written once): the engine, kernel and cgroup facts, how long the image
  load took, and the guest's speed calibration; or ``failed.json`` with the reason.
- ``jobs/NNNN.json`` (written by the host, atomically): one job. The agent runs it in a
  child process (``python3 -m harness.vm.job``), its output going to ``jobs/NNNN.log``,
  and writes ``jobs/NNNN.done`` holding the exit code when it ends.

The agent never exits on a job's failure; the host stops the guest when it is done.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

POLL_S = 0.2
JOB_NAME = re.compile(r"^\d{4}\.json$")  # not NNNN.out.json, the job's output


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write whole or not at all: the host may read the file at any moment."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.rename(path)


def prepare(images: Path) -> dict[str, Any]:
    """Wait for the engine, load the shared images, measure; the facts for ready.json."""
    import docker

    from harness.backends.docker.engine import describe
    from harness.vm.speed import calibrate

    client = docker.from_env(timeout=900)  # a load under emulation takes longer than the 60 s default
    deadline = time.monotonic() + 120
    while True:
        try:
            client.ping()
            break
        except Exception:  # noqa: BLE001 - dockerd still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    loaded: dict[str, float] = {}
    for tar in sorted(images.glob("*.tar")):
        started = time.monotonic()
        with tar.open("rb") as data:
            client.images.load(data)
        loaded[tar.name] = round(time.monotonic() - started, 1)
    return {
        "engine": describe(client).to_json(),
        "images_loaded_s": loaded,
        "calibration_s": calibrate(),
        "uptime_s": float(Path("/proc/uptime").read_text().split()[0]),
        "cgroup_v2": Path("/sys/fs/cgroup/cgroup.controllers").is_file(),
    }


def serve(share: Path) -> None:
    """Run each job file as it appears, in order, forever."""
    jobs = share / "jobs"
    jobs.mkdir(exist_ok=True)
    while True:
        serve_pending(jobs)
        time.sleep(POLL_S)


def serve_pending(jobs: Path) -> None:
    """Run every job in ``jobs`` that has not run yet, in order."""
    for job in sorted(p for p in jobs.glob("*.json") if JOB_NAME.match(p.name)):
        done = job.with_suffix(".done")
        if done.exists():
            continue
        if job.with_suffix(".log").exists():
            # Started by an agent that was stopped mid-job: never run a job twice.
            write_json(job.with_suffix(".out.json"), {
                "error": "the guest's agent was restarted while this job ran; the job was not finished"})
            done.write_text("3\n")
            continue
        with job.with_suffix(".log").open("w") as log:
            code = subprocess.call([sys.executable, "-m", "harness.vm.job", str(job)],
                                   stdout=log, stderr=subprocess.STDOUT)
        done.write_text(f"{code}\n")


def main(argv: list[str]) -> int:
    share, images = Path(argv[1]), Path(argv[2])
    try:
        facts = prepare(images)
    except Exception as exc:  # noqa: BLE001 - reported to the host, which says why the guest is unusable
        write_json(share / "failed.json", {"error": f"{type(exc).__name__}: {exc}",
                                           "traceback": traceback.format_exc()})
        return 1
    write_json(share / "ready.json", facts)
    serve(share)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
