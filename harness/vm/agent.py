"""The guest's agent: started by systemd at boot, it loads the images the host saved,
says it is ready, then runs the host's jobs one at a time.

The host and the guest talk through the shared folder only (no network):

- ``ready.json`` (written once): the engine, kernel and cgroup facts, how long the image
  load took, and the guest's speed calibration; or ``failed.json`` with the reason.
- ``jobs/NNNN.json`` (written by the host, atomically): one job. The agent runs it in a
  forked child (:func:`harness.vm.job.main`), its output going to ``jobs/NNNN.log``, and
  writes ``jobs/NNNN.done`` holding the exit code when it ends.

Under emulation a job that was a fresh ``python3`` spent 8 to 10 s importing the harness
and its libraries before its first line; the agent imports them once, while the engine
starts, and every job is a fork of it that starts with them loaded.

The agent never exits on a job's failure; the host stops the guest when it is done.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
    from harness.jsondata import to_data
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
        if shutil.which("podman"):  # the same images in Podman's store, for jobs that ask for Podman
            started = time.monotonic()
            subprocess.run(["podman", "load", "-q", "-i", str(tar)], check=True, timeout=900,
                           stdout=subprocess.DEVNULL)
            loaded[f"podman:{tar.name}"] = round(time.monotonic() - started, 1)
    return {
        "engine": to_data(describe(client)),
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
        if _kind(job) == "poweroff":
            power_off(done)
            return
        code = run_forked(job, job.with_suffix(".log"))
        done.write_text(f"{code}\n")


def _kind(job: Path) -> str:
    try:
        return str(json.loads(job.read_text()).get("kind", ""))
    except (OSError, ValueError, AttributeError):
        return ""  # the job itself reports what is wrong with its file


def power_off(done: Path, hostname: Path = Path("/etc/hostname")) -> None:
    """The host asked for a clean shutdown (a disk being prepared): systemd stops the
    engine and unmounts the disk, then qemu exits. Refused anywhere but in the guest."""
    from harness.vm.image import GUEST_HOSTNAME

    here = hostname.read_text().strip() if hostname.is_file() else ""
    if here != GUEST_HOSTNAME:
        write_json(done.with_suffix(".out.json"), {"error": f"not the guest ({here or 'no hostname'}): "
                                                            "refusing to power this machine off"})
        done.write_text("2\n")
        return
    import compileall

    # Byte code of all the shared code, kept on the disk being prepared (PYTHONPYCACHEPREFIX).
    compileall.compile_dir(str(done.parents[1] / "src"), quiet=1)
    done.write_text("0\n")
    os.sync()
    subprocess.run(["systemctl", "poweroff", "--no-block"], check=False, timeout=60)


#: What a job imports: loaded once in the agent, so a forked job does not pay for it.
WARM_MODULES = ("docker", "httpx", "harness.vm.job", "harness.vm.checks", "harness.backends.docker.backend",
                "harness.runner", "harness.scenario")


def warm_up() -> None:
    """Import what every job needs, once. A module that fails to import is left for the
    job to import again, which then reports the error to the host."""
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - see above
            traceback.print_exc()


def run_forked(job: Path, log: Path) -> int:
    """Run ``job`` in a forked child writing to ``log``; its exit code (128+N if killed by N)."""
    from harness.vm import job as job_module

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the agent's loop
        code = 3
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            # Whatever sys.stdout was (a test's capture, say), the job writes to its log.
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives until _exit
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
            code = job_module.main(["job", str(job)])
        except BaseException:  # noqa: BLE001 - the child must end here, whatever happened
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    share, images = Path(argv[1]), Path(argv[2])
    warm_up()  # while the engine starts
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
