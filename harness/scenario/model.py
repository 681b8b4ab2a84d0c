"""Typed, frozen models of a scenario file.

A scenario says which image to run in a container with which limits, which steps to drive
against it, and which verdicts the gap matrix should show. The YAML is validated once, here,
so the runner, the collectors and the report only ever see these objects.

Shapes the YAML may take and what they become:

* sizes (``"0.5Gi"``, ``"512m"``, bytes) become ``int`` bytes; durations (``"30s"``,
  ``"500ms"``, seconds) become ``float`` seconds -- see :mod:`harness.scenario.units`;
* a step is a one-key mapping named after its kind (``- sleep: 2s``,
  ``- http: {path: /start}``) or a bare kind name (``- wait_healthy``); it becomes one of the
  ``*Step`` models, each with a ``kind`` field. The flat form ``{kind: http, path: /start}``
  is accepted too, so ``model_dump(mode="json", by_alias=True)`` reads back unchanged;
* ``target.process`` may be omitted, a kind name, or a mapping without ``kind``: all mean
  gunicorn;
* ``restart`` may be a bare policy (``restart: on-failure``); YAML's unquoted ``no`` (read
  as false) means the policy ``"no"``;
* an expected count may be an int (exactly) or ``{min, max}``; it becomes :class:`KillCount`;
* an expected verdict may be one verdict or a list of acceptable ones; it becomes a list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from harness.scenario.units import MiB, format_size, parse_duration, parse_size, quote_value

SourceId = Literal[
    "cgroup",
    "kernel_log",
    "engine_oom_event",
    "engine_state",
    "lifecycle_events",
    "restart_count",
    "console_logs",
    "metric_1m_avg",
    "metric_highres",
    "client",
    "health_probe",
]
Verdict = Literal["visible", "partial", "gap", "misleading", "unavailable", "none"]

SOURCE_IDS: tuple[SourceId, ...] = get_args(SourceId)
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)

LAB_IMAGE = "labapp"
MIN_MEMORY = 6 * MiB  # Docker refuses a smaller --memory.
MAX_TIMEOUT = 3600.0


def _quoted(values: Iterable[object]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def _seconds(value: float) -> str:
    return f"{value:g}s"


# ---------------------------------------------------------------------------------------
# Field types


def _seconds_within(
    minimum: float, maximum: float, *, allow_minimum: bool = True
) -> AfterValidator:
    """A range check for durations whose message speaks in seconds, not raw floats."""

    if allow_minimum:
        rule = f"between {_seconds(minimum)} and {_seconds(maximum)}"
    else:
        rule = f"more than {_seconds(minimum)} and at most {_seconds(maximum)}"

    def check(value: float) -> float:
        above_minimum = value >= minimum if allow_minimum else value > minimum
        if not above_minimum or value > maximum:
            raise ValueError(f"must be {rule}, got {_seconds(value)}")
        return value

    return AfterValidator(check)


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Let None through a parser, for optional sizes."""
    return lambda value: None if value is None else parse(value)


def _starts_with_slash(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f'{quote_value(value)} must start with "/"')
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _json_body(value: Any) -> dict[str, Any] | list[Any] | None:
    """Accept a JSON object or array that will survive ``json.dumps`` at run time.

    YAML can produce values JSON cannot carry (dates, sets, non-string keys), and finding
    that out mid-run would waste a container start.
    """
    if value is None:
        return None
    if not isinstance(value, (dict, list)):
        raise ValueError(f"must be a JSON object or array, got {quote_value(value)}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"is not JSON: {exc}") from None
    return value


Size = Annotated[int, BeforeValidator(parse_size)]
OptionalSize = Annotated[int | None, BeforeValidator(_optional(parse_size))]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Timeout = Annotated[Duration, _seconds_within(0.0, MAX_TIMEOUT, allow_minimum=False)]
SleepDuration = Annotated[Duration, _seconds_within(0.0, MAX_TIMEOUT)]
UrlPath = Annotated[str, AfterValidator(_starts_with_slash)]
NonBlank = Annotated[str, AfterValidator(_not_blank)]
Method = Annotated[Literal["GET", "POST", "PUT", "DELETE", "PATCH"], BeforeValidator(_upper)]
StatusCode = Annotated[StrictInt, Field(ge=100, le=599)]
JsonBody = Annotated[dict[str, Any] | list[Any] | None, PlainValidator(_json_body)]


# ---------------------------------------------------------------------------------------
# Base


class _Model(BaseModel):
    """Frozen, closed model whose unknown-key message lists the keys that are allowed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Keys accepted but not worth suggesting (the internal ``kind`` of a step).
    _unlisted_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def input_keys(cls) -> list[str]:
        """The keys a mapping for this model may have, as written in YAML (aliases)."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        # extra="forbid" alone would say "Extra inputs are not permitted" without
        # saying what was expected, and one error per key.
        if isinstance(data, Mapping):
            allowed = cls.input_keys()
            unknown = [key for key in data if key not in allowed]
            if unknown:
                listed = [key for key in allowed if key not in cls._unlisted_keys]
                noun = "key" if len(unknown) == 1 else "keys"
                raise ValueError(
                    f"unknown {noun} {_quoted(unknown)} (expected one of: {', '.join(listed)})"
                )
        return data


# ---------------------------------------------------------------------------------------
# Target


class GunicornProcess(_Model):
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

    def command(self, port: int) -> list[str]:
        """The gunicorn argv that serves ``app`` on ``0.0.0.0:port``."""
        argv = ["gunicorn", "--bind", f"0.0.0.0:{port}", "--workers", str(self.workers)]
        argv += ["--worker-class", self.worker_class]
        if self.worker_class == "gthread":
            argv += ["--threads", str(self.threads)]
        argv += ["--timeout", str(self.timeout)]
        if self.max_requests > 0:
            argv += ["--max-requests", str(self.max_requests)]
        if self.max_requests_jitter > 0:
            argv += ["--max-requests-jitter", str(self.max_requests_jitter)]
        return [*argv, *self.extra_args, self.app]


class UwsgiProcess(_Model):
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

    def command(self, port: int) -> list[str]:
        """The uwsgi argv that serves ``app`` over HTTP on ``0.0.0.0:port``."""
        argv = ["uwsgi", "--master", "--processes", str(self.workers)]
        if self.threads > 1:
            argv += ["--threads", str(self.threads)]
        argv += ["--http-socket", f"0.0.0.0:{port}", "--module", self.app, "--enable-threads",
                 "--single-interpreter", "--die-on-term", "--need-app", "--disable-logging"]
        if self.harakiri > 0:
            argv += ["--harakiri", str(self.harakiri)]
        if self.max_requests > 0:
            argv += ["--max-requests", str(self.max_requests)]
        return [*argv, *self.extra_args]


class UvicornProcess(_Model):
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

    def command(self, port: int) -> list[str]:
        """The uvicorn argv that serves ``app`` on ``0.0.0.0:port``."""
        argv = ["uvicorn", "--host", "0.0.0.0", "--port", str(port), "--workers", str(self.workers),
                "--interface", self.interface]
        if not self.access_log:
            argv.append("--no-access-log")
        return [*argv, *self.extra_args, self.app]


class PlainProcess(_Model):
    """One process given by its argv, running as PID 1 with no supervisor to restart it."""

    kind: Literal["plain"] = "plain"
    # Stored as ``argv`` because ``command`` is the method every process kind offers.
    argv: list[str] = Field(alias="command", min_length=1)

    def command(self, port: int) -> list[str]:
        """The argv as written; the port is the program's own business."""
        return list(self.argv)


class ImageDefault(_Model):
    """Whatever the image's own CMD/ENTRYPOINT runs."""

    kind: Literal["image"] = "image"

    def command(self, port: int) -> None:
        """None: the engine should keep the image's command."""
        return None


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
                         f"(?P<pid>...), not {_quoted(others)}")
    if compiled.search("") is not None:
        raise ValueError(f"{quote_value(value)} matches an empty line, so it would count every line as a kill")
    return value


KillLogPattern = Annotated[StrictStr, AfterValidator(_kill_log_pattern)]


class Target(_Model):
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

    def command(self) -> list[str] | None:
        """The container command for this target; None keeps the image's own."""
        return self.process.command(self.port)


# ---------------------------------------------------------------------------------------
# Limits and restart policy


class Limits(_Model):
    """The cgroup and rlimit settings the container gets.

    ``oom_group`` makes the container's cgroup kill as a group, as a kubelet of Kubernetes
    1.28 or later does on cgroup v2 (``memory.oom.group`` set to 1): when the kernel
    OOM-kills one process, it kills every process of the container with it.
    """

    memory: Size
    memory_swap: OptionalSize = None
    cpus: Annotated[StrictFloat, Field(gt=0, le=64)] | None = None
    address_space: OptionalSize = None
    pids: Annotated[StrictInt, Field(ge=1)] | None = None
    oom_group: StrictBool = False

    @field_validator("memory")
    @classmethod
    def _memory_floor(cls, value: int) -> int:
        if value < MIN_MEMORY:
            raise ValueError(
                f"must be at least {format_size(MIN_MEMORY)} (Docker's minimum), "
                f"got {format_size(value)}"
            )
        return value

    @field_validator("address_space")
    @classmethod
    def _address_space_positive(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("must be more than 0 bytes")
        return value

    @model_validator(mode="after")
    def _swap_covers_memory(self) -> Limits:
        # Docker's memory-swap is memory plus swap, so it cannot be below memory.
        if self.memory_swap is not None and self.memory_swap < self.memory:
            raise ValueError(
                f"memory_swap ({format_size(self.memory_swap)}) must be >= memory "
                f"({format_size(self.memory)}): it counts memory plus swap"
            )
        return self

    @property
    def swap_limit(self) -> int:
        """memory + swap in bytes, as Docker's ``memory_swap`` wants it (no swap by default)."""
        return self.memory if self.memory_swap is None else self.memory_swap


def _no_policy(value: Any) -> Any:
    # YAML 1.1 reads an unquoted ``no`` as false.
    return "no" if value is False else value


RestartPolicyName = Annotated[
    Literal["no", "on-failure", "always", "unless-stopped"], BeforeValidator(_no_policy)
]


class RestartPolicy(_Model):
    """The engine's restart policy for the container (Docker's ``--restart``)."""

    policy: RestartPolicyName = "no"
    max_retries: Annotated[StrictInt, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _retries_need_on_failure(self) -> RestartPolicy:
        if self.max_retries > 0 and self.policy != "on-failure":
            raise ValueError(
                f'max_retries only applies to policy "on-failure" (policy is "{self.policy}")'
            )
        return self


def _restart_form(value: Any) -> Any:
    """``restart: always`` (or ``restart: no``) is short for ``restart: {policy: ...}``."""
    if isinstance(value, str) or value is False:
        return {"policy": value}
    return value


# ---------------------------------------------------------------------------------------
# Ingress

# HAProxy's ``retry-on`` keywords that make sense in front of the lab app; a status code
# retries when the server answered with it.
RETRY_ON: tuple[str, ...] = (
    "conn-failure", "empty-response", "junk-response", "response-timeout",
    "500", "502", "503", "504", "all-retryable-errors",
)
RetryOn = Literal[
    "conn-failure", "empty-response", "junk-response", "response-timeout",
    "500", "502", "503", "504", "all-retryable-errors",
]


# Words users reach for that HAProxy spells differently.
_RETRY_HINTS = {
    "reset": 'a reset before any answer is "empty-response", a reset mid-answer "junk-response"',
    "connect-failure": 'HAProxy calls it "conn-failure"',
    "timeout": 'HAProxy calls it "response-timeout"',
    "5xx": 'list the codes: "500", "502", "503", "504"',
}


def _retry_on_form(value: Any) -> Any:
    """``retry_on: empty-response`` is one item; status codes may be written as numbers."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if text not in RETRY_ON:
            hint = _RETRY_HINTS.get(str(text), f"expected one of: {', '.join(RETRY_ON)}")
            raise ValueError(f"{quote_value(item)} is not a retry condition ({hint})")
        out.append(text)
    if not out:
        raise ValueError("give at least one retry condition")
    return list(dict.fromkeys(out))


class Ingress(_Model):
    """A reverse proxy in front of the app, as a platform's ingress is (Envoy on Container
    Apps): the client's requests go through it, the health probe goes straight to the app.

    ``retries`` is how many more times the proxy sends a request after the first attempt
    failed in one of the ``retry_on`` ways (HAProxy's keywords: ``conn-failure`` -- no
    connection; ``empty-response`` -- the server closed or reset the connection before
    answering, which is what an OOM-killed worker does; ``junk-response`` -- a cut-off
    answer; ``response-timeout`` -- no answer within ``timeout_server``; or a status code).
    ``retries: 0`` turns retrying off.
    """

    kind: Literal["haproxy"] = "haproxy"
    retries: Annotated[StrictInt, Field(ge=0, le=20)] = 0
    retry_on: Annotated[list[RetryOn], BeforeValidator(_retry_on_form)] = ["conn-failure"]
    timeout_connect: Timeout = 5.0
    timeout_server: Timeout = 60.0
    timeout_client: Timeout = 60.0


# ---------------------------------------------------------------------------------------
# Conditions


class Condition(_Model):
    """What a ``poll`` or ``wait`` step waits for: every field that is set must hold.

    ``json_field`` is a dot-separated path into the polled JSON response (``pid`` or
    ``cgroup.oom_kills``); it needs exactly one of ``changed`` (the value differs from the
    first one seen in this step) or ``equals``. ``equals: null`` counts as not set, so a
    field cannot be compared with null.
    """

    kills: Annotated[StrictInt, Field(ge=1)] | None = None
    json_field: NonBlank | None = None
    changed: StrictBool | None = None
    equals: Any = None
    status: StatusCode | None = None
    exited: StrictBool | None = None

    @model_validator(mode="after")
    def _check_consistent(self) -> Condition:
        compares = [name for name in ("changed", "equals") if getattr(self, name) is not None]
        if self.json_field is None and compares:
            raise ValueError(f"{compares[0]} needs json_field")
        if all(getattr(self, name) is None for name in ("kills", "json_field", "status", "exited")):
            raise ValueError("a condition needs at least one of: kills, json_field, status, exited")
        if self.json_field is not None and len(compares) != 1:
            raise ValueError("json_field needs exactly one of: changed, equals")
        return self

    @property
    def uses_response(self) -> bool:
        """True when the condition reads an HTTP response (status or JSON field)."""
        return self.json_field is not None or self.status is not None

    def describe(self) -> str:
        """A short human form, for progress lines and timeout messages."""
        parts: list[str] = []
        if self.kills is not None:
            parts.append(f"kills >= {self.kills}")
        if self.json_field is not None:
            if self.changed is not None:
                parts.append(f"{self.json_field} {'changed' if self.changed else 'unchanged'}")
            else:
                parts.append(f"{self.json_field} == {json.dumps(self.equals)}")
        if self.status is not None:
            parts.append(f"status == {self.status}")
        if self.exited is not None:
            parts.append("exited" if self.exited else "running")
        return " and ".join(parts)


# ---------------------------------------------------------------------------------------
# Steps


class _Step(_Model):
    _unlisted_keys: ClassVar[frozenset[str]] = frozenset({"kind"})


class WaitHealthyStep(_Step):
    """Poll ``target.health_path`` until it answers 2xx."""

    kind: Literal["wait_healthy"] = "wait_healthy"
    timeout: Timeout = 30.0
    interval: Timeout = 0.2


class HttpStep(_Step):
    """Send one request; the response (or the error) is recorded as a client signal."""

    kind: Literal["http"] = "http"
    name: NonBlank | None = None
    method: Method = "GET"
    path: UrlPath
    # ``json`` would shadow BaseModel.json(), so the field is ``body`` with YAML key ``json``.
    body: JsonBody = Field(default=None, alias="json")
    timeout: Timeout = 30.0
    expect_status: StatusCode | None = None


class PollStep(_Step):
    """Request ``path`` every ``every`` until ``until`` holds or ``timeout`` passes."""

    kind: Literal["poll"] = "poll"
    method: Method = "GET"
    path: UrlPath
    every: Timeout = 0.5
    timeout: Timeout
    until: Condition


class WaitStep(_Step):
    """Wait on harness-level facts (kills, exit) without sending requests."""

    kind: Literal["wait"] = "wait"
    until: Condition
    timeout: Timeout
    every: Timeout = 0.1

    @field_validator("until")
    @classmethod
    def _no_response_needed(cls, value: Condition) -> Condition:
        if value.uses_response:
            raise ValueError("json_field and status need an HTTP response; use a poll step")
        return value


class SleepStep(_Step):
    """Do nothing for a while (collectors keep running)."""

    kind: Literal["sleep"] = "sleep"
    duration: SleepDuration


class BurstStep(_Step):
    """Send ``count`` requests, at most ``concurrency`` at a time; with ``rate``, start at
    most that many per second (steady traffic, so memory that grows per request climbs
    over seconds instead of jumping)."""

    kind: Literal["burst"] = "burst"
    name: NonBlank | None = None
    method: Method = "GET"
    path: UrlPath
    body: JsonBody = Field(default=None, alias="json")
    count: Annotated[StrictInt, Field(ge=1, le=10000)]
    concurrency: Annotated[StrictInt, Field(ge=1, le=256)]
    rate: Annotated[float, Field(gt=0, le=10000)] | None = None
    timeout: Timeout = 30.0
    total_timeout: Timeout = 300.0


class WaitExitStep(_Step):
    """Wait until the container has exited for good (no restart pending)."""

    kind: Literal["wait_exit"] = "wait_exit"
    timeout: Timeout


class SnapshotStep(_Step):
    """Capture the JSON of ``paths`` under ``name`` (baseline, mid-leak, post-heavy ...),
    for the report's before/after delta tables."""

    kind: Literal["snapshot"] = "snapshot"
    name: NonBlank
    paths: Annotated[list[UrlPath], Field(min_length=1)] = ["/diag/proc", "/diag/stats"]
    timeout: Timeout = 30.0


STEP_TYPES: tuple[type[_Step], ...] = (
    WaitHealthyStep,
    HttpStep,
    PollStep,
    WaitStep,
    SleepStep,
    BurstStep,
    WaitExitStep,
    SnapshotStep,
)
STEP_KINDS: tuple[str, ...] = tuple(step.model_fields["kind"].default for step in STEP_TYPES)

# The option a scalar value stands for: ``- sleep: 2s`` is ``- sleep: {duration: 2s}``.
_SHORTHAND: dict[str, str] = {
    "sleep": "duration",
    "wait_healthy": "timeout",
    "wait_exit": "timeout",
    "snapshot": "name",
}

_STEP_EXAMPLE = "e.g. `- sleep: 2s` or `- http: {path: /start}`"


def _unknown_kind(kind: object) -> ValueError:
    return ValueError(
        f"unknown step kind {quote_value(kind)} (expected one of: {', '.join(STEP_KINDS)})"
    )


def _step_options(kind: str, options: Any) -> dict[str, Any]:
    """The options mapping of a one-key step, expanding the scalar shorthand."""
    if options is None:
        return {}
    if isinstance(options, Mapping):
        if "kind" in options:
            raise ValueError(f'"kind" is not an option: the key "{kind}" already gives the kind')
        return dict(options)
    if kind in _SHORTHAND:
        return {_SHORTHAND[kind]: options}
    raise ValueError(f'the options of "{kind}" must be a mapping, got {quote_value(options)}')


def _not_one_key(value: Mapping[Any, Any]) -> str:
    """Explain a step mapping without exactly one key, spotting mis-indented options."""
    if not value:
        return f"a step cannot be an empty mapping ({_STEP_EXAMPLE})"
    message = (
        f"a step must have exactly one key, its kind ({_STEP_EXAMPLE}), "
        f"but has {len(value)}: {_quoted(value)}"
    )
    first, options = next(iter(value.items()))
    if first in STEP_KINDS and options is None:
        message += f' (indent the options under "{first}:")'
    return message


def _step_form(value: Any) -> Any:
    """Turn ``{"sleep": "2s"}`` or ``"wait_healthy"`` into the flat ``{"kind": ...}`` form."""
    if isinstance(value, _Step):
        return value
    if isinstance(value, str):
        if value not in STEP_KINDS:
            raise _unknown_kind(value)
        return {"kind": value}
    if not isinstance(value, Mapping):
        raise ValueError(f"a step must be a mapping ({_STEP_EXAMPLE}), got {quote_value(value)}")
    if "kind" in value:  # already flat, e.g. read back from model_dump()
        if value["kind"] not in STEP_KINDS:
            raise _unknown_kind(value["kind"])
        return value
    if len(value) != 1:
        raise ValueError(_not_one_key(value))
    ((kind, options),) = value.items()
    if kind not in STEP_KINDS:
        raise _unknown_kind(kind)
    return {"kind": kind, **_step_options(kind, options)}


Step = Annotated[
    Annotated[
        WaitHealthyStep
        | HttpStep
        | PollStep
        | WaitStep
        | SleepStep
        | BurstStep
        | WaitExitStep
        | SnapshotStep,
        Field(discriminator="kind"),
    ],
    BeforeValidator(_step_form),
]


# ---------------------------------------------------------------------------------------
# Expectations


class KillCount(_Model):
    """An inclusive range for a count (OOM kills, client errors); ``max`` None is unbounded."""

    min: Annotated[StrictInt, Field(ge=0)] = 0
    max: Annotated[StrictInt, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> KillCount:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self

    def matches(self, count: int) -> bool:
        """True when ``count`` lies in the range."""
        return count >= self.min and (self.max is None or count <= self.max)

    def describe(self) -> str:
        """``exactly 1``, ``at least 1`` or ``1 to 3``."""
        if self.max is None:
            return f"at least {self.min}"
        if self.max == self.min:
            return f"exactly {self.min}"
        return f"{self.min} to {self.max}"


def _count_form(value: Any) -> Any:
    """An int ``n`` means exactly ``n``: ``{min: n, max: n}``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a count or {{min, max}}, got {quote_value(value)}")
    if isinstance(value, int):
        return {"min": value, "max": value}
    if isinstance(value, Mapping) and not value:
        raise ValueError("give min, max or both")
    return value


Count = Annotated[KillCount, BeforeValidator(_count_form)]


def _verdict_list(source: str, value: Any) -> list[str]:
    verdicts = value if isinstance(value, list) else [value]
    if not verdicts:
        raise ValueError(f"{source}: give at least one verdict")
    for verdict in verdicts:
        if verdict not in VERDICTS:
            expected = ", ".join(VERDICTS)
            raise ValueError(
                f"{source}: {quote_value(verdict)} is not a verdict (expected one of: {expected})"
            )
    return list(dict.fromkeys(verdicts))


def _sources_form(value: Any) -> Any:
    """Check source ids against SOURCE_IDS and make every expected verdict a list."""
    if not isinstance(value, Mapping):
        return value
    unknown = [source for source in value if source not in SOURCE_IDS]
    if unknown:
        noun = "source" if len(unknown) == 1 else "sources"
        raise ValueError(
            f"unknown {noun} {_quoted(unknown)} (expected one of: {', '.join(SOURCE_IDS)})"
        )
    return {source: _verdict_list(source, verdicts) for source, verdicts in value.items()}


class PerRequest(_Model):
    """What each client request of one named step must have caused: how many attempts
    reached the app (a retrying ingress sends more than one) and how many OOM kills
    those attempts caused."""

    attempts: Count | None = None
    kills: Count | None = None

    @model_validator(mode="after")
    def _something(self) -> PerRequest:
        if self.attempts is None and self.kills is None:
            raise ValueError("give attempts, kills or both")
        return self


_ENGINE_SPEC = re.compile(r"^(?:(?P<name>docker)(?P<op>>=|<|==)(?P<major>\d+)(?:\.(?P<minor>\d+))?"
                          r"|cgroup=v(?P<cgroup>[12]))$")


def _engine_spec(value: str) -> str:
    if not _ENGINE_SPEC.match(value):
        raise ValueError(f"{quote_value(value)} is not an engine condition "
                         "(docker>=24, docker<24, docker==26.1, cgroup=v1 or cgroup=v2)")
    return value


def _version_tuple(text: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)(?:\.(\d+))?", text)
    return (int(match[1]), int(match[2] or 0)) if match else None


def engine_matches(spec: str, engine: Mapping[str, Any]) -> bool:
    """Whether an engine (a result's ``engine``: name, version, cgroup_version) meets ``spec``.

    ``docker>=24`` compares major (and minor, when given) versions; ``cgroup=v2`` the
    cgroup version. An engine that does not say its version meets no version condition.
    """
    match = _ENGINE_SPEC.match(spec)
    if match is None:
        return False
    if match["cgroup"]:
        return str(engine.get("cgroup_version", "")) == match["cgroup"]
    if str(engine.get("name", "")) != match["name"]:
        return False
    have = _version_tuple(str(engine.get("version", "")))
    if have is None:
        return False
    want = (int(match["major"]), int(match["minor"] or 0))
    have = have if match["minor"] else (have[0], 0)
    return {">=": have >= want, "<": have < want, "==": have == want}[match["op"]]


class EngineExpectations(_Model):
    """Expectations that replace the scenario's own on engines meeting a condition."""

    kills: Count | None = None
    sources: Annotated[dict[SourceId, list[Verdict]], BeforeValidator(_sources_form)] = {}
    client_errors: Count | None = None


class Expectations(_Model):
    """What a run must show; any that fails makes the exit code 1.

    ``per_request`` is keyed by the name of an ``http`` or ``burst`` step. ``on_engine``
    is keyed by an engine condition (``docker>=24``, ``cgroup=v2``): where a finding is
    true on some engines only, the scenario says what each shows, and the expectations of
    every condition the run's engine meets replace the general ones, key by key.
    """

    kills: Count | None = None
    sources: Annotated[dict[SourceId, list[Verdict]], BeforeValidator(_sources_form)] = {}
    client_errors: Count | None = None
    per_request: dict[NonBlank, PerRequest] = {}
    on_engine: dict[Annotated[str, AfterValidator(_engine_spec)], EngineExpectations] = {}

    def allowed_verdicts(self, source: SourceId) -> tuple[Verdict, ...]:
        """The verdicts accepted for ``source``; empty when the scenario expects nothing."""
        return tuple(self.sources.get(source, ()))

    def for_engine(self, engine: Mapping[str, Any]) -> Expectations:
        """These expectations as they apply on ``engine``."""
        result = self
        for spec, override in self.on_engine.items():
            if not engine_matches(spec, engine):
                continue
            update: dict[str, Any] = {"sources": {**result.sources, **override.sources}}
            if override.kills is not None:
                update["kills"] = override.kills
            if override.client_errors is not None:
                update["client_errors"] = override.client_errors
            result = result.model_copy(update=update)
        return result


# ---------------------------------------------------------------------------------------
# Scenario

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _name_form(value: str) -> str:
    # The name ends up in container names and result folders.
    if not _NAME.match(value):
        raise ValueError(
            f"{quote_value(value)} is not a usable name (letters, digits, '.', '_', '-'; "
            "starting with a letter or digit; at most 64 characters)"
        )
    return value


class Scenario(_Model):
    """One experiment: a target under limits, the steps to drive, and what must be seen."""

    name: Annotated[str, AfterValidator(_name_form)]
    description: str = ""
    target: Target
    limits: Limits
    restart: Annotated[RestartPolicy, BeforeValidator(_restart_form)] = RestartPolicy()
    repeat: Annotated[StrictInt, Field(ge=1, le=100)] = 1
    sample_interval: Annotated[Duration, _seconds_within(0.005, 5.0)] = 0.02
    settle: Annotated[Duration, _seconds_within(0.0, 60.0)] = 1.0
    run_timeout: Annotated[Duration, _seconds_within(0.0, MAX_TIMEOUT, allow_minimum=False)] = 120.0
    ingress: Ingress | None = None
    steps: Annotated[list[Step], Field(min_length=1)]
    expect: Expectations = Expectations()

    @model_validator(mode="after")
    def _per_request_names_steps(self) -> Scenario:
        named = [step.name for step in self.steps if isinstance(step, (HttpStep, BurstStep)) and step.name]
        unknown = [name for name in self.expect.per_request if name not in named]
        if unknown:
            known = ", ".join(named) or "none: give an http or burst step a name"
            raise ValueError(
                f"expect.per_request: {_quoted(unknown)} names no http or burst step "
                f"(named steps: {known})"
            )
        return self
