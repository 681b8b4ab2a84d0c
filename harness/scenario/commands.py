"""The command lines the process kinds stand for.

The scenario models hold what a file says (``workers: 2``, ``max_requests: 10``); this
module turns that into the argv the container runs, one function per server, so the
schema knows nothing about any server's flags and a reader finds each command line in
one place. Every server binds ``0.0.0.0:<port>`` inside the container; the harness
publishes the port on 127.0.0.1 only.
"""

from __future__ import annotations

from harness.scenario.target import (
    GunicornProcess,
    ImageDefault,
    PlainProcess,
    Process,
    Target,
    UvicornProcess,
    UwsgiProcess,
)


def gunicorn_argv(process: GunicornProcess, port: int) -> list[str]:
    """gunicorn serving the WSGI app on ``0.0.0.0:port``."""
    argv = ["gunicorn", "--bind", f"0.0.0.0:{port}", "--workers", str(process.workers)]
    argv += ["--worker-class", process.worker_class]
    if process.worker_class == "gthread":
        argv += ["--threads", str(process.threads)]
    argv += ["--timeout", str(process.timeout)]
    if process.max_requests > 0:
        argv += ["--max-requests", str(process.max_requests)]
    if process.max_requests_jitter > 0:
        argv += ["--max-requests-jitter", str(process.max_requests_jitter)]
    return [*argv, *process.extra_args, process.app]


def uwsgi_argv(process: UwsgiProcess, port: int) -> list[str]:
    """uWSGI's master and workers serving the app over HTTP on ``0.0.0.0:port``."""
    argv = ["uwsgi", "--master", "--processes", str(process.workers)]
    if process.threads > 1:
        argv += ["--threads", str(process.threads)]
    argv += ["--http-socket", f"0.0.0.0:{port}", "--module", process.app, "--enable-threads",
             "--single-interpreter", "--die-on-term", "--need-app", "--disable-logging"]
    if process.harakiri > 0:
        argv += ["--harakiri", str(process.harakiri)]
    if process.max_requests > 0:
        argv += ["--max-requests", str(process.max_requests)]
    return [*argv, *process.extra_args]


def uvicorn_argv(process: UvicornProcess, port: int) -> list[str]:
    """uvicorn (with its supervisor when ``workers`` > 1) serving the app on ``0.0.0.0:port``."""
    argv = ["uvicorn", "--host", "0.0.0.0", "--port", str(port), "--workers", str(process.workers),
            "--interface", process.interface]
    if not process.access_log:
        argv.append("--no-access-log")
    return [*argv, *process.extra_args, process.app]


def process_command(process: Process, port: int) -> list[str] | None:
    """The argv for ``process`` listening on ``port``; None keeps the image's own command."""
    if isinstance(process, GunicornProcess):
        return gunicorn_argv(process, port)
    if isinstance(process, UwsgiProcess):
        return uwsgi_argv(process, port)
    if isinstance(process, UvicornProcess):
        return uvicorn_argv(process, port)
    if isinstance(process, PlainProcess):
        return list(process.argv)  # as written: the port is the program's own business
    assert isinstance(process, ImageDefault)
    return None


def target_command(target: Target) -> list[str] | None:
    """The container command for ``target``; None keeps the image's own."""
    return process_command(target.process, target.port)
