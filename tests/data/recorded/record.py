"""Record the real-format inputs the unit tests parse (run by hand, never by pytest).

    sudo .venv/bin/python tests/data/recorded/record.py [OUT_DIR]

Needs root (for /dev/kmsg and the cgroup files), a Docker engine on cgroup v1 with the
cgroupfs driver, and the lab image ``oom-harness/labapp:latest``. Every container it starts
carries ``io.oom-harness=test`` and ``io.oom-harness.owner=<this pid>`` and is removed at the
end, also on errors. Four recordings, each in its own folder:

* ``gunicorn_spike``: one gthread worker under 256m, ``POST /spike {"mb": 400}``;
* ``gunicorn_gradual``: the same, ``POST /start`` allocating 16 MiB every 0.2 s;
* ``pid1_restart``: ``python3 -m harness.lab.pid1 --hard-mb 400`` as PID 1, restart on-failure:2;
* ``supervisor``: ``harness.lab.supervisor --max-restarts 1`` around the same PID-1 program;
* ``ingress_retry``: ``scenarios/spike-ingress-retry.yaml``'s app and HAProxy (5 retries),
  one ``POST /spike`` through the proxy: the proxy's and the app's logs.

``--only NAME`` records one of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import httpx
from docker.models.containers import Container

from harness import cgroupfs

IMAGE = "oom-harness/labapp:latest"
LABELS = {"io.oom-harness": "test", "io.oom-harness.owner": str(os.getpid())}
MEMORY = 256 * 1024 * 1024
GUNICORN = ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "1", "--worker-class", "gthread",
            "--threads", "4", "harness.lab.app:app"]
PID1 = ["python3", "-m", "harness.lab.pid1", "--hard-mb", "400"]
INFO_KEYS = ("ServerVersion", "CgroupVersion", "CgroupDriver", "KernelVersion", "OperatingSystem", "OSType",
             "Architecture", "Driver", "MemoryLimit", "SwapLimit", "OomKillDisable", "NCPU")
CGROUP_FILES = ("memory.oom_control", "memory.usage_in_bytes", "memory.max_usage_in_bytes",
                "memory.limit_in_bytes", "memory.stat")


class Kmsg:
    """Reads /dev/kmsg from its end onwards, keeping each record exactly as read."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def drain(self) -> list[str]:
        """Every record written since the last drain."""
        records = []
        while True:
            try:
                records.append(os.read(self.fd, 8192).decode("utf-8", "replace"))
            except BlockingIOError:
                return records


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``check`` until true; fail loudly after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g}s")
        time.sleep(0.05)


def start(client: docker.DockerClient, command: list[str], **extra: Any) -> Container:
    """Create and start a labelled, memory-limited container."""
    container = client.containers.create(
        IMAGE, command=command, labels=LABELS, mem_limit=MEMORY, memswap_limit=MEMORY, detach=True,
        ports={"8080/tcp": ("127.0.0.1", None)}, **extra)
    container.start()
    return container


def cgroup_dir(client: docker.DockerClient, container: Container) -> Path:
    """The container's v1 memory cgroup directory, found through its PID 1."""
    pid = int(client.api.inspect_container(container.id)["State"]["Pid"])
    memory = cgroupfs.for_pid(pid)
    assert memory is not None and memory.version == 1, "these recordings are of cgroup v1"
    return memory.path


def save_cgroup(path: Path, out: Path) -> None:
    """Copy the memory cgroup files as they read now."""
    out.mkdir(parents=True, exist_ok=True)
    for name in CGROUP_FILES:
        (out / name).write_text((path / name).read_text())


def oom_kills(path: Path) -> int:
    return cgroupfs.parse_flat_keyed((path / "memory.oom_control").read_text()).get("oom_kill", 0)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def host_port(client: docker.DockerClient, container: Container) -> int:
    ports = client.api.inspect_container(container.id)["NetworkSettings"]["Ports"]
    return int(ports["8080/tcp"][0]["HostPort"])


def save_common(client: docker.DockerClient, container: Container, since: float, out: Path,
                kmsg_records: list[str]) -> None:
    """Events, logs, the final inspect, the kernel records and matching dmesg lines."""
    until = time.time() + 1
    events = client.api.events(since=int(since), until=int(until) + 1,
                               filters={"container": container.id}, decode=True)
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (out / "inspect.json").write_text(json.dumps(client.api.inspect_container(container.id), indent=2) + "\n")
    (out / "logs.txt").write_bytes(container.logs(timestamps=True))
    (out / "kmsg.txt").write_text("".join(kmsg_records))
    (out / "dmesg.txt").write_text(dmesg_lines(kmsg_records))


def dmesg_lines(kmsg_records: list[str]) -> str:
    """The ``dmesg`` output lines of the records just read from /dev/kmsg (same stamps)."""
    wanted = {int(record.split(";", 1)[0].split(",")[2]) for record in kmsg_records}
    output = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    kept = []
    for line in output.splitlines():
        match = re.match(r"\[\s*(\d+)\.(\d{6})\]", line)
        if match and int(match.group(1)) * 1_000_000 + int(match.group(2)) in wanted:
            kept.append(line + "\n")
    return "".join(kept)


def record_gunicorn(client: docker.DockerClient, kmsg: Kmsg, out: Path, load: Callable[[str], None]) -> None:
    """A gunicorn worker killed by ``load``; the master survives."""
    since = time.time() - 1
    kmsg.drain()
    container = start(client, GUNICORN)
    try:
        base = f"http://127.0.0.1:{host_port(client, container)}"
        wait_for("healthy", lambda: healthy(base))
        path = cgroup_dir(client, container)
        save_cgroup(path, out / "cgroup_before")
        load(base)
        wait_for("an oom kill", lambda: oom_kills(path) >= 1)
        wait_for("a new worker", lambda: healthy(base))
        time.sleep(1.0)
        save_cgroup(path, out / "cgroup_after")
        save_common(client, container, since, out, kmsg.drain())
    finally:
        container.remove(force=True)


def spike(base: str) -> None:
    try:
        httpx.post(f"{base}/spike", json={"mb": 400}, timeout=30)
    except httpx.HTTPError as exc:
        print(f"spike request failed as expected: {type(exc).__name__}: {exc}")


def gradual(base: str) -> None:
    httpx.post(f"{base}/start", json={"chunk_mb": 16, "pause_seconds": 0.2, "target_mb": 400}, timeout=10)


def record_restarts(client: docker.DockerClient, kmsg: Kmsg, out: Path, command: list[str],
                    restart: dict[str, Any] | None) -> None:
    """A PID-1 program killed repeatedly; every distinct inspect state is kept in order."""
    since = time.time() - 1
    kmsg.drain()
    extra = {"restart_policy": restart} if restart else {}
    container = start(client, command, **extra)
    inspects: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()

    def snapshot_until_done() -> bool:
        attrs = client.api.inspect_container(container.id)
        state = attrs["State"]
        key = (attrs["RestartCount"], state["Status"], state["OOMKilled"], state["FinishedAt"], state["Pid"])
        if key not in seen:
            seen.add(key)
            inspects.append(attrs)
        return state["Status"] == "exited" and not state["Restarting"]

    try:
        wait_for("the final exit", snapshot_until_done, timeout=90)
        time.sleep(0.5)
        (out / "inspects.jsonl").write_text("".join(json.dumps(a) + "\n" for a in inspects))
        save_common(client, container, since, out, kmsg.drain())
    finally:
        container.remove(force=True)


def record_ingress(out: Path) -> None:
    """The harness's own Docker backend starts the pair; one spike goes through the proxy."""
    from harness.backends.docker.backend import DockerBackend, prepare_images
    from harness.config import HarnessConfig
    from harness.scenario import load_scenario

    scenario = load_scenario(Path(__file__).resolve().parents[3] / "scenarios" / "spike-ingress-retry.yaml")
    client, config = docker.from_env(), HarnessConfig()
    prepare_images(client, config, scenario)
    with DockerBackend(client, config).launch(scenario, 1) as session:
        wait_for("the app through the proxy", lambda: healthy(session.base_url))
        httpx.post(f"{session.base_url}/spike", json={"mb": 500}, headers={"X-Request-Id": "recorded0001"},
                   timeout=90)
        time.sleep(2)
        assert session.proxy is not None
        (out / "proxy.log").write_text(session.proxy.logs())
        (out / "logs.txt").write_text(session.container.container.logs(timestamps=True).decode())


def main(out_dir: str, only: str | None = None) -> None:
    root = Path(out_dir)
    client = docker.from_env()
    kmsg = Kmsg()
    version, info = client.version(), client.info()
    facts = {"engine": version["Version"], "api": version["ApiVersion"], "cgroup_version": info["CgroupVersion"],
             "cgroup_driver": info["CgroupDriver"], "kernel": info["KernelVersion"],
             "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for name, record in (
        ("gunicorn_spike", lambda out: record_gunicorn(client, kmsg, out, spike)),
        ("gunicorn_gradual", lambda out: record_gunicorn(client, kmsg, out, gradual)),
        ("pid1_restart", lambda out: record_restarts(client, kmsg, out, PID1,
                                                     {"Name": "on-failure", "MaximumRetryCount": 2})),
        ("supervisor", lambda out: record_restarts(
            client, kmsg, out, ["python3", "-m", "harness.lab.supervisor", "--max-restarts", "1", "--", *PID1], None)),
        ("ingress_retry", record_ingress),
    ):
        if only is not None and name != only:
            continue
        out = root / name
        out.mkdir(parents=True, exist_ok=True)
        print(f"recording {name} ...")
        record(out)
    if only is not None:
        return
    (root / "engine.json").write_text(json.dumps(facts, indent=2) + "\n")
    (root / "engine_info.json").write_text(json.dumps({key: info[key] for key in INFO_KEYS}, indent=2))
    (root / "engine_version.json").write_text(json.dumps(version, indent=2))


if __name__ == "__main__":
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        index = args.index("--only")
        only = args[index + 1]
        del args[index:index + 2]
    main(args[0] if args else str(Path(__file__).parent), only)
