"""Record what each app server prints when a worker is SIGKILLed (run by hand, never by pytest).

    sudo .venv/bin/python tests/data/recorded/record_servers.py [OUT_DIR] [--only NAME]

The kill-line patterns of the console_logs source are tested against these lines, so
they are the servers' own words, not anyone's memory of them. Same engine, labels, limits
and helpers as ``record.py`` (256m, no swap, port 8080 on 127.0.0.1, removed at the end);
the lab image must be current (``harness image build``). Six recordings:

* ``uwsgi_gradual``: pyuwsgi, master and 2 workers, ``POST /start`` until a worker is
  OOM-killed (``DAMN ! worker N (pid: P) died, killed by signal 9``);
* ``uvicorn_gradual``: uvicorn ``--workers 2 --interface wsgi``, the same load
  (``Child process [P] died``);
* ``gunicorn20_gradual``: gunicorn 20.1.0 (installed into the container at start from a wheel
  downloaded on the host) with the same load (``Worker with pid P was terminated due to
  signal 9``);
* ``gunicorn_timeout``: gunicorn 23 with one sync worker, ``--timeout 3`` and
  ``POST /block {"seconds": 30}``: no OOM, but ``WORKER TIMEOUT`` and then the arbiter's own
  SIGKILL, logged as ``Perhaps out of memory?``;
* ``uwsgi_harakiri``: pyuwsgi with ``--harakiri 3`` and the same blocking request: uWSGI's
  own timeout, logged as ``killed by signal 9`` with no OOM either;
* ``own_image_shell``: the user's image of examples/own-image (built here on the lab image)
  under its shell loop (examples/own-image/own-image-shell.yaml's command), ``POST /keep``
  until the single uvicorn process is OOM-killed: the loop's own line, which only a
  scenario's ``kill_log_patterns`` knows.

Each folder gets ``logs.txt`` (``docker logs --timestamps``), ``events.jsonl``,
``inspect.json``, ``kmsg.txt``, ``dmesg.txt`` and ``oom_control_before.txt`` /
``oom_control_after.txt`` (the v1 cgroup's ``memory.oom_control``: the ground truth), and
``servers.json`` the versions of the servers in the image.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
from docker.models.containers import Container

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import (  # noqa: E402
    LABELS,
    MEMORY,
    Kmsg,
    cgroup_dir,
    gradual,
    healthy,
    host_port,
    oom_kills,
    save_common,
    start,
    wait_for,
)

IMAGE = "oom-harness/labapp:latest"
APP = "harness.lab.app:app"
UWSGI = ["uwsgi", "--master", "--processes", "2", "--http-socket", "0.0.0.0:8080", "--module", APP,
         "--enable-threads", "--single-interpreter", "--die-on-term", "--need-app", "--disable-logging"]
UVICORN = ["uvicorn", "--host", "0.0.0.0", "--port", "8080", "--workers", "2", "--interface", "wsgi",
           "--no-access-log", APP]
GUNICORN20_WHEEL = "gunicorn-20.1.0-py3-none-any.whl"
GUNICORN20 = ["sh", "-c", f"pip install -q --no-deps --no-index --target /tmp/g20 /wheels/{GUNICORN20_WHEEL} && "
              "PYTHONPATH=/tmp/g20 exec python3 -m gunicorn --bind 0.0.0.0:8080 --workers 1 "
              f"--worker-class gthread --threads 4 {APP}"]
GUNICORN_TIMEOUT = ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "1", "--worker-class", "sync",
                    "--timeout", "3", APP]
UWSGI_HARAKIRI = [*UWSGI[:3], "1", *UWSGI[4:], "--harakiri", "3"]
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "own-image"
EXAMPLE_IMAGE = "oom-harness/example-asgi:latest"
EXAMPLE_SHELL = ["sh", "-c", 'while true; do uvicorn --host 0.0.0.0 --port 8080 app:app; '
                 'echo "app: server exited with status $?, restarting"; done']


def block(base: str) -> None:
    """One request that holds its worker in C code for 30 s (the server kills it first)."""
    try:
        httpx.post(f"{base}/block", json={"seconds": 30}, timeout=60)
    except httpx.HTTPError as exc:
        print(f"block request failed as expected: {type(exc).__name__}: {exc}")


def keep(base: str) -> None:
    """Twelve requests to the example app, each keeping 32 MiB (some fail as it is killed)."""
    for _ in range(12):
        try:
            httpx.post(f"{base}/keep", timeout=30)
        except httpx.HTTPError as exc:
            print(f"keep request failed as expected: {type(exc).__name__}: {exc}")


def build_example(client: docker.DockerClient) -> str:
    """The user's image of examples/own-image, built on the lab image."""
    client.images.build(path=str(EXAMPLE), tag=EXAMPLE_IMAGE, rm=True, labels={"io.oom-harness": "example"})
    return EXAMPLE_IMAGE


def start_other(client: docker.DockerClient, image: str, command: list[str]) -> Container:
    """``record.start`` for an image other than the lab's: the same labels and limits."""
    container = client.containers.create(image, command=command, labels=LABELS, mem_limit=MEMORY,
                                         memswap_limit=MEMORY, detach=True, ports={"8080/tcp": ("127.0.0.1", None)})
    container.start()
    return container


def worker_killed(container: Container, needle: str) -> Callable[[], bool]:
    """True once the server's log holds ``needle`` (its line about the dead worker)."""
    return lambda: needle in container.logs().decode("utf-8", "replace")


def record_server(client: docker.DockerClient, kmsg: Kmsg, out: Path, command: list[str],
                  load: Callable[[str], None], needle: str, want_oom: bool, **extra: object) -> None:
    """Start ``command``, apply ``load``, wait for the server's line about the dead worker
    and for a new worker to answer; keep the cgroup's OOM counter before and after."""
    since = time.time() - 1
    kmsg.drain()
    image = str(extra.pop("image", IMAGE))
    container = start(client, command, **extra) if image == IMAGE else start_other(client, image, command)
    try:
        base = f"http://127.0.0.1:{host_port(client, container)}"
        wait_for("healthy", lambda: healthy(base), timeout=90)
        path = cgroup_dir(client, container)
        (out / "oom_control_before.txt").write_text((path / "memory.oom_control").read_text())
        load(base)
        wait_for(f"the line {needle!r}", worker_killed(container, needle))
        wait_for("a new worker", lambda: healthy(base))
        time.sleep(1.0)
        (out / "oom_control_after.txt").write_text((path / "memory.oom_control").read_text())
        kills = oom_kills(path)
        assert (kills >= 1) == want_oom, f"{out.name}: {kills} OOM kills"
        save_common(client, container, since, out, kmsg.drain())
    finally:
        container.remove(force=True)


def server_versions(client: docker.DockerClient) -> dict[str, str]:
    """The versions of the servers installed in the lab image."""
    script = ("import importlib.metadata as m, json; "
              "print(json.dumps({p: m.version(p) for p in ('gunicorn', 'pyuwsgi', 'uvicorn', 'flask')}))")
    output = client.containers.run(IMAGE, ["python3", "-c", script], remove=True, labels={"io.oom-harness": "test"})
    versions: dict[str, str] = json.loads(output)
    versions["gunicorn (gunicorn20_gradual)"] = "20.1.0"
    return versions


def download_gunicorn20(folder: Path) -> Path:
    """gunicorn 20.1.0's wheel, downloaded on the host (pip inside the image has no index)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / GUNICORN20_WHEEL).exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", str(folder), "gunicorn==20.1.0"], check=True)
    return folder


def main(out_dir: str, only: str | None = None) -> None:
    root = Path(out_dir)
    client = docker.from_env()
    kmsg = Kmsg()
    wheels = download_gunicorn20(Path.home() / ".cache" / "oom-harness" / "record-gunicorn20")
    one_cpu = {"nano_cpus": 10**9}
    recordings: dict[str, Callable[[Path], None]] = {
        "uwsgi_gradual": lambda out: record_server(client, kmsg, out, UWSGI, gradual, "DAMN !", True),
        "uvicorn_gradual": lambda out: record_server(client, kmsg, out, UVICORN, gradual, "died", True),
        "gunicorn20_gradual": lambda out: record_server(
            client, kmsg, out, GUNICORN20, gradual, "was terminated due to signal", True,
            volumes={str(wheels): {"bind": "/wheels", "mode": "ro"}}),
        "gunicorn_timeout": lambda out: record_server(client, kmsg, out, GUNICORN_TIMEOUT, block, "SIGKILL", False,
                                                      **one_cpu),
        "uwsgi_harakiri": lambda out: record_server(client, kmsg, out, UWSGI_HARAKIRI, block, "DAMN !", False,
                                                    **one_cpu),
        "own_image_shell": lambda out: record_server(client, kmsg, out, EXAMPLE_SHELL, keep, "server exited with",
                                                     True, image=build_example(client)),
    }
    for name, record in recordings.items():
        if only is not None and name != only:
            continue
        out = root / name
        out.mkdir(parents=True, exist_ok=True)
        print(f"recording {name} ...")
        record(out)
    version = client.version()
    facts = {"engine": version["Version"], "kernel": version.get("KernelVersion"),
             "servers": server_versions(client), "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (root / "servers.json").write_text(json.dumps(facts, indent=2) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = None
    if "--only" in args:
        index = args.index("--only")
        chosen = args[index + 1]
        del args[index:index + 2]
    main(args[0] if args else str(Path(__file__).parent), chosen)
