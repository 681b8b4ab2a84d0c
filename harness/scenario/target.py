"""What runs in the container: the process kinds (gunicorn, uWSGI, uvicorn, a plain
command, the image's own), its environment and the console lines that say it was killed.

These models hold what the file says; the command lines they stand for are built in
:mod:`harness.scenario.commands`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_serializer,
    model_validator,
)

from harness.scenario.fields import LAB_IMAGE, FrozenModel, NonBlank, UrlPath, quoted
from harness.scenario.units import quote_value

# ---------------------------------------------------------------------------------------
# Target


class GunicornProcess(FrozenModel):
    """gunicorn serving a WSGI app: the lab's default, as in the reference experiment."""

    kind: Literal["gunicorn"] = "gunicorn"
    app: NonBlank = "harness.lab.app:app"
    worker_class: Literal["sync", "gthread"] = "gthread"
    workers: Annotated[StrictInt, Field(ge=1, le=64)] = 1
    threads: Annotated[StrictInt, Field(ge=1, le=256)] = 4
    timeout: Annotated[StrictInt, Field(ge=1)] = 120
    max_requests: Annotated[StrictInt, Field(ge=0)] = 0
    max_requests_jitter: Annotated[StrictInt, Field(ge=0)] = 0
    extra_args: list[str] = []

    @model_validator(mode="after")
    def _check_combinations(self) -> GunicornProcess:
        # gunicorn silently switches a sync worker with threads > 1 to gthread, which
        # would run a different experiment from the one the file describes.
        if self.worker_class == "sync" and "threads" in self.model_fields_set and self.threads != 1:
            raise ValueError('threads only applies to worker_class "gthread"')
        if self.max_requests_jitter > 0 and self.max_requests == 0:
            raise ValueError("max_requests_jitter needs max_requests > 0")
        return self

    @field_serializer("threads")
    def _threads_as_run(self, threads: int) -> int:
        """A sync worker runs one thread, whatever the default says; written so, a dump
        reads back (the guest and the pytest plugin re-validate dumped scenarios)."""
        return 1 if self.worker_class == "sync" else threads


class UwsgiProcess(FrozenModel):
    """uWSGI (the pyuwsgi wheel in the lab image): a master that forks ``workers`` and
    respawns each one that dies, serving HTTP itself on the port.

    The master loads the app and forks (uWSGI's default); ``--enable-threads`` lets the
    app start threads (the lab's background allocator), ``--die-on-term`` makes SIGTERM
    stop it (uWSGI 2.0 reloads on it otherwise) and ``--disable-logging`` leaves out
    uWSGI's own request lines (the lab logs every request itself). ``harakiri`` is uWSGI's
    request timeout (0: off), ``max_requests`` its worker recycling.
    """

    kind: Literal["uwsgi"] = "uwsgi"
    app: NonBlank = "harness.lab.app:app"
    workers: Annotated[StrictInt, Field(ge=1, le=64)] = 2
    threads: Annotated[StrictInt, Field(ge=1, le=256)] = 1
    harakiri: Annotated[StrictInt, Field(ge=0)] = 0
    max_requests: Annotated[StrictInt, Field(ge=0)] = 0
    extra_args: list[str] = []



class UvicornProcess(FrozenModel):
    """uvicorn with ``workers`` processes under its own supervisor, which starts a new one
    for each that dies.

    ``interface: wsgi`` serves a WSGI app (the lab's Flask app) through uvicorn's own
    adapter; an ASGI app of your own takes ``auto``. With ``workers: 1`` uvicorn runs no
    supervisor: the one process is the server, and its kill ends the container. The access
    log is off by default, as the lab logs every request itself.
    """

    kind: Literal["uvicorn"] = "uvicorn"
    app: NonBlank = "harness.lab.app:app"
    workers: Annotated[StrictInt, Field(ge=1, le=64)] = 2
    interface: Literal["auto", "asgi3", "asgi2", "wsgi"] = "wsgi"
    access_log: StrictBool = False
    extra_args: list[str] = []



class PlainProcess(FrozenModel):
    """One process given by its argv, running as PID 1 with no supervisor to restart it."""

    kind: Literal["plain"] = "plain"
    # ``command`` in the file; ``argv`` here, the name the command builders read.
    argv: list[str] = Field(alias="command", min_length=1)



class ImageDefault(FrozenModel):
    """Whatever the image's own CMD/ENTRYPOINT runs."""

    kind: Literal["image"] = "image"



PROCESS_KINDS: tuple[str, ...] = ("gunicorn", "uwsgi", "uvicorn", "plain", "image")


def _process_form(value: Any) -> Any:
    """Fill in the short forms: omitted/null or a mapping without ``kind`` is gunicorn."""
    if value is None:
        return {"kind": "gunicorn"}
    if isinstance(value, str):
        value = {"kind": value}
    if isinstance(value, Mapping):
        kind = value.get("kind", "gunicorn")
        if kind not in PROCESS_KINDS:
            expected = ", ".join(PROCESS_KINDS)
            raise ValueError(
                f"unknown process kind {quote_value(kind)} (expected one of: {expected})"
            )
        return {**value, "kind": kind}
    return value


Process = Annotated[
    Annotated[GunicornProcess | UwsgiProcess | UvicornProcess | PlainProcess | ImageDefault,
              Field(discriminator="kind")],
    BeforeValidator(_process_form),
]


def _env_form(value: Any) -> Any:
    """Turn YAML scalars into the strings an environment holds (``true`` -> ``"true"``)."""
    if not isinstance(value, Mapping):
        return value
    env: dict[Any, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or "=" in key:
            raise ValueError(f"{quote_value(key)} is not an environment variable name")
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, (int, float)):
            item = str(item)
        elif not isinstance(item, str):
            raise ValueError(f"{key}: value must be a string or number, got {quote_value(item)}")
        env[key] = item
    return env


def _kill_log_pattern(value: str) -> str:
    """A regular expression that can find a kill line: it compiles, names no group but
    ``pid``, and does not match every line (an empty match would count every line as a kill)."""
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"{quote_value(value)} is not a regular expression: {exc}") from None
    others = [name for name in compiled.groupindex if name != "pid"]
    if others:
        raise ValueError(f"{quote_value(value)}: the only named group a kill pattern may have is "
                         f"(?P<pid>...), not {quoted(others)}")
    if compiled.search("") is not None:
        raise ValueError(f"{quote_value(value)} matches an empty line, so it would count every line as a kill")
    return value


KillLogPattern = Annotated[StrictStr, AfterValidator(_kill_log_pattern)]


class Target(FrozenModel):
    """What runs in the container and how the harness reaches it.

    ``kill_log_patterns`` are regular expressions for the console lines that say a worker
    of this image was killed (searched in each line; an optional named group ``pid`` gives
    the killed PID). They are tried before the defaults, which know gunicorn 20.x and 21+,
    uWSGI, uvicorn and the lab supervisor, so an image served by one of those needs none.
    """

    image: NonBlank = LAB_IMAGE
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 8080
    health_path: UrlPath = "/health"
    process: Process = GunicornProcess()
    env: Annotated[dict[str, str], BeforeValidator(_env_form)] = {}
    kill_log_patterns: list[KillLogPattern] = []

    @property
    def uses_lab_image(self) -> bool:
        """True when ``image`` names the harness's own lab image rather than a tag."""
        return self.image == LAB_IMAGE



