"""Checks of the guest's kernel, run by the agent as jobs: real cgroups, not recorded files.

``oom_watch``: a container under a 128 MiB limit idles, then a child process allocates
past the limit and is OOM-killed while the container's shell lives on. The OOM watch is
attached to the container's real cgroup the whole time; the outcome gives the detection
mechanism, the kills counted, the notifications received while idle and around the
kill, the watch's CPU time, and the detection latency against the kernel log.

``record_oom_kinds`` records the kernel and engine outputs of each kind of kill,
``faults`` runs the fault trials, ``boot_profile`` says where the boot's time went.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.units import MIB

IDLE_S = 5.0


def oom_watch(job: dict[str, Any]) -> dict[str, Any]:
    import docker

    from harness import cgroupfs
    from harness.backends.docker.container import ContainerSpec, LabContainer
    from harness.collectors import kernel_log
    from harness.collectors.cgroup import CgroupOomCollector

    client = docker.from_env(timeout=600)
    script = f"sleep {IDLE_S + 1:g}; python3 -c 'b = bytearray(400 * 1024 * 1024)'; sleep 3"
    spec = ContainerSpec(
        image=job["image"], port=8080, command=["sh", "-c", script], env={}, memory_bytes=128 * MIB,
        memory_swap_bytes=128 * MIB, nano_cpus=None, restart_policy=None,
        labels={job["label"]: "check", f"{job['label']}.run": uuid.uuid4().hex[:12]})
    kmsg = kernel_log.KernelLogCollector()
    kmsg.start()
    try:
        with LabContainer(client, spec) as container:
            pid = int(container.inspect()["State"]["Pid"])
            cgroup = cgroupfs.for_pid(pid)
            if cgroup is None:
                return {"passed": False, "error": "the container's cgroup was not found"}
            watch = CgroupOomCollector(cgroup)
            watch.start()
            time.sleep(IDLE_S)
            idle = {"wakes": watch.wakes, "cpu_s": round(watch.cpu_s, 4)}
            _wait(lambda: watch.kills >= 1, 60.0)
            time.sleep(1.0)
            watch.stop()
            container_id = container.id
    finally:
        kmsg.stop()
    kernel = kernel_log.kills_from(kernel_log.find_kills(kmsg.snapshot(), container_id), kmsg.boot_wall)
    detected = [o.t for o in watch.snapshot()]
    latency = [round((d - k.t) * 1000, 1) for k, d in zip(kernel, detected, strict=False)]
    return {
        "passed": watch.kills == 1 and watch.detection.startswith("poll(memory.events") and idle["wakes"] == 0,
        "cgroup": {"version": cgroup.version, "path": str(cgroup.path)},
        "detection": watch.detection, "kills": watch.kills, "kernel_kills": len(kernel),
        "idle": idle, "wakes": watch.wakes, "cpu_s": round(watch.cpu_s, 4), "latency_ms": latency,
    }


def _wait(done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)


def _kmsg_lines(records: list[Any]) -> list[str]:
    return [f"6,{r.seq},{r.usec},-;{r.text}" for r in records]


def record_oom_kinds(job: dict[str, Any]) -> dict[str, Any]:
    """Record, for the parsers' tests, what this kernel and engine write about three kinds
    of OOM kill: a worker kill the container survives (with the engine's inspections
    before and after), a group kill (memory.oom.group=1), and a machine-wide OOM.

    Returns raw /dev/kmsg records and ``docker inspect`` results, nothing interpreted.
    """
    import docker

    from harness import cgroupfs
    from harness.collectors import kernel_log

    client = docker.from_env(timeout=600)
    labels = {job["label"]: "check"}
    out: dict[str, Any] = {"passed": True}

    def record(name: str, command: str, mem: int | None, group: bool) -> None:
        kmsg = kernel_log.KernelLogCollector()
        kmsg.start()
        kwargs: dict[str, Any] = {"mem_limit": mem, "memswap_limit": mem} if mem else {}
        container = client.containers.run(job["image"], ["sh", "-c", command], detach=True, labels=labels, **kwargs)
        try:
            inspects = [client.api.inspect_container(str(container.id))]
            cgroup = cgroupfs.for_pid(int(inspects[0]["State"]["Pid"]))
            if group and cgroup is not None:
                (cgroup.path / "memory.oom.group").write_text("1")
            events_before = cgroup.snapshot() if cgroup else None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(0.5)
                inspects.append(client.api.inspect_container(str(container.id)))
                if not any("oom-kill:" in r.text for r in kmsg.snapshot()):
                    continue
                time.sleep(2.0)
                inspects.append(client.api.inspect_container(str(container.id)))
                break
            events_after = cgroup.snapshot() if cgroup else None
        finally:
            container.remove(force=True)
            kmsg.stop()
        out[name] = {"container_id": container.id, "kmsg": _kmsg_lines(kmsg.snapshot()),
                     "inspects": inspects, "cgroup_before": events_before, "cgroup_after": events_after}

    alloc = "python3 -c 'b = bytearray(400 << 20)'"
    record("worker_kill", f"sleep 2; {alloc}; sleep 600", 128 * MIB, group=False)
    record("group_kill", f"sleep 2; {alloc}; sleep 600", 128 * MIB, group=True)
    # No limit: 64 MiB at a time until the guest itself runs out (no swap there).
    grow = "python3 -c 'b = [bytearray(64 << 20) for _ in range(400)]'"
    record("global_oom", f"sleep 2; {grow}; sleep 600", None, group=False)
    return out


def faults(job: dict[str, Any]) -> dict[str, Any]:
    """The fault trials (:mod:`harness.faults`) in this guest, each run as a user runs it."""
    import os
    import tempfile
    from pathlib import Path

    import docker

    from harness.config import HarnessConfig
    from harness.faults.judge import trials_data
    from harness.faults.trial import run_faults

    time_scale = float(job.get("time_scale", 1.0))
    os.environ["OOM_HARNESS_TIME_SCALE"] = str(time_scale)  # the runs' own waits, as the guest's jobs get
    client = docker.from_env(timeout=600)
    with tempfile.TemporaryDirectory(prefix="oom-harness-faults-") as work:
        trials = run_faults(list(job["faults"]), list(job["scenarios"]), int(job["runs"]), Path(work), client,
                            HarnessConfig(), time_scale=time_scale, log=lambda line: print(line, flush=True))
    return {"passed": all(t.ok for t in trials), "trials": trials_data(trials)}


def boot_profile(job: dict[str, Any]) -> dict[str, Any]:
    """Where this boot's time went, by systemd's own account: the figures bench/ reports
    beside boot-to-ready, to see what is left to cut."""
    import subprocess

    def analyze(*args: str) -> str:
        done = subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=120)
        return (done.stdout or done.stderr).strip()

    return {
        "passed": True,
        "time": analyze("time"),
        "blame": analyze("blame", "--no-pager").splitlines()[:15],
        "critical_chain": analyze("critical-chain", "--no-pager", "oom-harness-agent.service").splitlines(),
        "kernel_cmdline": Path("/proc/cmdline").read_text().strip(),
        "engine_start": _journal("docker.service"),
    }


def _journal(unit: str) -> list[str]:
    """The unit's log of this boot, stamped with seconds since boot."""
    import subprocess

    done = subprocess.run(["journalctl", "-b", "-u", unit, "-o", "short-monotonic", "--no-pager"],
                          capture_output=True, text=True, timeout=120)
    return done.stdout.splitlines()[-60:]


CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "oom_watch": oom_watch, "record_oom_kinds": record_oom_kinds, "faults": faults, "boot_profile": boot_profile}
