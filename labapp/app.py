"""The lab's Flask app, served by gunicorn inside a memory-limited container.

It offers three families of endpoints, one per reference lab:

* OOM visibility: ``/start`` (gradual background leak), ``/spike`` (one big allocation on
  the request thread), ``/memory``, ``/health``, ``/reset``, and ``/block`` (a request that
  holds its worker in C code past a server's timeout, with no memory involved);
* memory pressure: ``/leak``, ``/heavy``, ``/diag/stats``, ``/diag/proc``;
* blob processing: ``/blob/process`` buffering or streaming under a concurrency cap.

Every request is logged on arrival and on completion, so the harness can count attempts
even when the worker is SIGKILLed mid-request and the completion line never appears.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from harness import cgroupfs

from . import alloc, blob, block, procfs
from .allocator import GradualAllocator, Plan
from .config import LabConfig
from .logline import emit, format_mb
from .params import BadInput, choice_field, float_field, int_field, json_body

EXTENSION_KEY = "labapp"
REQUEST_ID_HEADER = "X-Request-Id"
#: Client ids are logged verbatim, so only log-safe ones (no spaces, no '=') are kept.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UNMATCHED_ROUTE = "<unmatched>"

MAX_PAUSE_SECONDS = 3600.0
MAX_CPU_MS = 60_000
MAX_BLOCK_SECONDS = 600.0
BLOB_MODES = ("buffer", "stream")
SORT_LIST_LENGTH = 20_000

#: Defaults follow the reference labs: 16 MB every 0.5 s up to 600 MB; a 500 MB spike.
START_DEFAULTS = Plan(chunk_mb=16, pause_seconds=0.5, target_mb=600)
SPIKE_DEFAULT_MB = 500
BLOCK_DEFAULT_SECONDS = 30.0
HEAVY_DEFAULT_MB = 32
HEAVY_DEFAULT_CPU_MS = 100
BLOB_DEFAULT_SIZE_MB = 100
BLOB_DEFAULT_CHUNK_MB = 4


class RequestCounts:
    """Thread-safe request counters per route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, route: str) -> None:
        """Count one request to ``route``."""
        with self._lock:
            self._counts[route] += 1

    def snapshot(self) -> dict[str, int]:
        """A copy of the counters."""
        with self._lock:
            return dict(self._counts)


class BlobGate:
    """A bounded semaphore that also reports how many blob requests run and wait."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._active = 0
        self._waiting = 0

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a slot; False when none came free."""
        with self._lock:
            self._waiting += 1
        acquired = self._semaphore.acquire(timeout=timeout)
        with self._lock:
            self._waiting -= 1
            self._active += int(acquired)
        return acquired

    def release(self) -> None:
        """Give a slot back."""
        with self._lock:
            self._active -= 1
        self._semaphore.release()

    def snapshot(self) -> dict[str, int]:
        """Slots, requests holding one, and requests queued for one."""
        with self._lock:
            return {"slots": self.slots, "active": self._active, "waiting": self._waiting}


@dataclass
class LabState:
    """Everything one app instance remembers between requests."""

    config: LabConfig
    allocations: alloc.BlockStore
    leaks: alloc.BlockStore
    allocator: GradualAllocator
    blob_gate: BlobGate
    counts: RequestCounts
    started_at: float

    @classmethod
    def create(cls, config: LabConfig) -> LabState:
        """Fresh, empty state for ``config``."""
        allocations = alloc.BlockStore()
        return cls(
            config=config,
            allocations=allocations,
            leaks=alloc.BlockStore(),
            allocator=GradualAllocator(allocations),
            blob_gate=BlobGate(config.blob_concurrency),
            counts=RequestCounts(),
            started_at=time.monotonic(),
        )


bp = Blueprint("lab", __name__)


def _lab() -> LabState:
    """The state of the app handling the current request."""
    state: LabState = current_app.extensions[EXTENSION_KEY]
    return state


def _body() -> dict[str, Any]:
    """The request's JSON object; an absent body means every parameter takes its default."""
    return json_body(request.get_data(cache=True))


def _utc_now() -> str:
    """Current UTC time in ISO 8601, for correlating responses with logs."""
    return datetime.now(UTC).isoformat()


def _rounded_mb(value: float | None) -> float | None:
    """Round a MB figure for JSON, passing None (unknown) through."""
    return None if value is None else round(value, 1)


def _cgroup_snapshot(root: Path) -> dict[str, Any]:
    """This container's memory cgroup, or why there is none."""
    memory = cgroupfs.detect(root)
    if memory is None:
        return {"unavailable": f"no memory cgroup found under {root}"}
    return memory.snapshot()


# --- request logging -------------------------------------------------------------------


def _request_id() -> str:
    """The caller's X-Request-Id when it is log-safe, otherwise a fresh short id."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if SAFE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex[:12]


def _log_request_start() -> None:
    """Log the arrival line before any work, so a request killed mid-way is still counted."""
    g.request_id = _request_id()
    g.request_started = time.perf_counter()
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    _lab().counts.add(route)
    emit(f"[REQ] start id={g.request_id} method={request.method} path={quote(request.path)} pid={os.getpid()}")


def _log_request_end(response: Response) -> Response:
    """Log the completion line and echo the request id to the caller."""
    request_id = g.get("request_id") or _request_id()
    elapsed_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
    response.headers[REQUEST_ID_HEADER] = request_id
    emit(f"[REQ] end id={request_id} status={response.status_code} ms={elapsed_ms:.1f} pid={os.getpid()}")
    return response


# --- error responses -------------------------------------------------------------------


def _bad_input(exc: BadInput) -> tuple[Response, int]:
    """400 naming the offending field."""
    return jsonify(error=exc.message, field=exc.field), 400


def _memory_error(exc: MemoryError) -> tuple[Response, int]:
    """Python could not allocate (an address-space limit, not the OOM killer)."""
    pid = os.getpid()
    emit(f"[OOM-TEST] MemoryError path={quote(request.path)} pid={pid}")
    return jsonify(error="MemoryError", path=request.path, pid=pid), 507


def _http_error(exc: HTTPException) -> BaseResponse:
    """Keep werkzeug's status and headers (e.g. Allow on 405) but answer in JSON."""
    response = exc.get_response()
    response.set_data(jsonify(error=exc.description, status=exc.code).get_data())
    response.content_type = "application/json"
    return response


# --- OOM visibility lab ----------------------------------------------------------------


@bp.post("/start")
def start() -> tuple[Response, int]:
    """Start the background allocator; 409 while a run is still in progress."""
    lab = _lab()
    body = _body()
    max_mb = lab.config.max_mb
    plan = Plan(
        chunk_mb=int_field(body, "chunk_mb", START_DEFAULTS.chunk_mb, minimum=1, maximum=max_mb),
        pause_seconds=float_field(
            body, "pause_seconds", START_DEFAULTS.pause_seconds, minimum=0.0, maximum=MAX_PAUSE_SECONDS
        ),
        target_mb=int_field(body, "target_mb", START_DEFAULTS.target_mb, minimum=1, maximum=max_mb),
    )
    pid = os.getpid()
    if not lab.allocator.start(plan):
        return jsonify(error="allocation already in progress", pid=pid), 409
    return (
        jsonify(
            action="started",
            chunk_mb=plan.chunk_mb,
            pause_seconds=plan.pause_seconds,
            target_mb=plan.target_mb,
            pid=pid,
        ),
        202,
    )


@bp.post("/spike")
def spike() -> Response:
    """Allocate ``mb`` at once on the request thread, so an OOM kill lands mid-request."""
    lab = _lab()
    mb = int_field(_body(), "mb", SPIKE_DEFAULT_MB, minimum=1, maximum=lab.config.max_mb)
    pid = os.getpid()
    emit(f"[OOM-TEST] spike mb={mb} pid={pid}")
    lab.allocations.add(alloc.allocate_mb(mb))
    emit(f"[OOM-TEST] spike complete mb={mb} rss_mb={format_mb(alloc.rss_mb())} pid={pid}")
    return jsonify(action="spike_complete", allocated_mb=mb, pid=pid)


@bp.post("/block")
def block_worker() -> Response:
    """Hold this worker in one C call for about ``seconds``, allocating nothing.

    Under gunicorn's sync worker no heartbeat is sent and no Python signal handler runs
    meanwhile, so a ``--timeout`` shorter than ``seconds`` ends in the arbiter's SIGKILL:
    the kill line that says "Perhaps out of memory?" with no memory involved.
    """
    seconds = float_field(_body(), "seconds", BLOCK_DEFAULT_SECONDS, minimum=0.0, maximum=MAX_BLOCK_SECONDS)
    pid = os.getpid()
    rounds = block.rounds_for(seconds, block.seconds_per_round())
    emit(f"[OOM-TEST] block seconds={seconds:g} rounds={rounds} pid={pid}")
    started = time.perf_counter()
    block.block(rounds)
    elapsed = time.perf_counter() - started
    emit(f"[OOM-TEST] block complete seconds={elapsed:.1f} pid={pid}")
    return jsonify(action="block_complete", seconds=round(elapsed, 2), rounds=rounds, pid=pid)


@bp.get("/memory")
def memory() -> Response:
    """What this worker holds, its RSS, and the container cgroup's own view."""
    lab = _lab()
    return jsonify(
        allocated_mb=round(lab.allocations.total_mb, 1),
        allocated_blocks=lab.allocations.count,
        allocating=lab.allocator.running,
        pid=os.getpid(),
        rss_mb=_rounded_mb(alloc.rss_mb()),
        cgroup=_cgroup_snapshot(lab.config.cgroup_root),
        timestamp_utc=_utc_now(),
    )


@bp.get("/health")
def health() -> Response:
    """Liveness: answers as long as any worker thread is free."""
    return jsonify(status="healthy", pid=os.getpid())


@bp.post("/reset")
def reset() -> Response:
    """Stop the allocator and drop every retained block (allocations and leaks)."""
    lab = _lab()
    lab.allocator.stop()
    freed_blocks = lab.allocations.clear()
    freed_leak_blocks = lab.leaks.clear()
    pid = os.getpid()
    emit(f"[OOM-TEST] reset freed_blocks={freed_blocks} freed_leak_blocks={freed_leak_blocks} pid={pid}")
    return jsonify(action="reset", freed_blocks=freed_blocks, freed_leak_blocks=freed_leak_blocks, pid=pid)


# --- memory pressure lab ---------------------------------------------------------------


@bp.post("/leak")
def leak() -> Response:
    """Retain one more block for the life of the worker."""
    lab = _lab()
    kb = int_field(_body(), "kb", lab.config.leak_block_kb, minimum=1, maximum=lab.config.max_mb * 1024)
    blocks = lab.leaks.add(alloc.allocate_touched(kb * alloc.KB))
    return jsonify(
        action="leaked",
        block_kb=kb,
        leak_blocks=blocks,
        leak_mb=round(lab.leaks.total_mb, 1),
        pid=os.getpid(),
    )


def _burn_cpu(cpu_ms: int) -> int:
    """Shuffle and sort a list until ``cpu_ms`` of wall time has passed; return the rounds."""
    deadline = time.perf_counter() + cpu_ms / 1000
    rng = random.Random(cpu_ms)
    values = list(range(SORT_LIST_LENGTH))
    rounds = 0
    while time.perf_counter() < deadline:
        rng.shuffle(values)
        values.sort()
        rounds += 1
    return rounds


@bp.route("/heavy", methods=["GET", "POST"])
def heavy() -> Response:
    """CPU work while holding a transient allocation, freed before answering."""
    lab = _lab()
    body = _body()
    mb = int_field(body, "mb", HEAVY_DEFAULT_MB, minimum=0, maximum=lab.config.max_mb)
    cpu_ms = int_field(body, "cpu_ms", HEAVY_DEFAULT_CPU_MS, minimum=0, maximum=MAX_CPU_MS)
    started = time.perf_counter()
    transient = alloc.allocate_mb(mb)
    rounds = _burn_cpu(cpu_ms)
    del transient
    elapsed_ms = (time.perf_counter() - started) * 1000
    return jsonify(
        action="heavy", mb=mb, cpu_ms=cpu_ms, rounds=rounds, elapsed_ms=round(elapsed_ms, 1), pid=os.getpid()
    )


CACHE_FILE_NAME = "labapp-page-cache.bin"
CACHE_DEFAULT_MB = 128
_MIB_PATTERN = b"\x5a" * alloc.MB


def _cache_file() -> Path:
    return Path(tempfile.gettempdir()) / CACHE_FILE_NAME


def _read_all(path: Path) -> int:
    """Read a file through the page cache; return the bytes read."""
    total = 0
    with path.open("rb", buffering=0) as source:
        while chunk := source.read(alloc.MB):
            total += len(chunk)
    return total


@bp.post("/cache")
def fill_cache() -> Response:
    """Write a file of ``mb`` MB inside the container and read it back.

    Its pages stay in the page cache, charged to the container's memory cgroup: memory
    the kernel can reclaim under pressure. With no swap on the host, page cache is the
    only thing reclaim can take, so the pressure lab needs it.
    """
    lab = _lab()
    mb = int_field(_body(), "mb", CACHE_DEFAULT_MB, minimum=1, maximum=lab.config.max_mb)
    started = time.perf_counter()
    with _cache_file().open("wb") as out:
        for _ in range(mb):
            out.write(_MIB_PATTERN)
    read = _read_all(_cache_file())
    elapsed_ms = (time.perf_counter() - started) * 1000
    return jsonify(action="cached", mb=mb, read_mb=round(read / alloc.MB, 1),
                   elapsed_ms=round(elapsed_ms, 1), pid=os.getpid())


@bp.get("/cache")
def read_cache() -> Response | tuple[Response, int]:
    """Read the cached file again: slower once reclaim has evicted its pages."""
    path = _cache_file()
    if not path.exists():
        return jsonify(error="no cache file yet: POST /cache first", field="mb"), 404
    started = time.perf_counter()
    read = _read_all(path)
    return jsonify(action="read", read_mb=round(read / alloc.MB, 1),
                   elapsed_ms=round((time.perf_counter() - started) * 1000, 1), pid=os.getpid())


@bp.get("/diag/stats")
def diag_stats() -> Response:
    """The app's own view: uptime, requests per route, leak and allocation totals."""
    lab = _lab()
    counts = lab.counts.snapshot()
    return jsonify(
        pid=os.getpid(),
        uptime_s=round(time.monotonic() - lab.started_at, 3),
        request_counts=counts,
        request_total=sum(counts.values()),
        leak_blocks=lab.leaks.count,
        leak_mb=round(lab.leaks.total_mb, 1),
        allocated_mb=round(lab.allocations.total_mb, 1),
        allocating=lab.allocator.running,
        blob=lab.blob_gate.snapshot(),
        rss_mb=_rounded_mb(alloc.rss_mb()),
        timestamp_utc=_utc_now(),
    )


@bp.get("/diag/proc")
def diag_proc() -> Response:
    """Node-wide memory, reclaim, PSI and load, plus this container's cgroup snapshot."""
    return jsonify(
        pid=os.getpid(),
        rss_mb=_rounded_mb(alloc.rss_mb()),
        meminfo=procfs.meminfo(),
        vmstat=procfs.vmstat(),
        pressure={"memory": procfs.pressure("memory"), "cpu": procfs.pressure("cpu")},
        loadavg=procfs.loadavg(),
        cgroup=_cgroup_snapshot(_lab().config.cgroup_root),
        timestamp_utc=_utc_now(),
    )


# --- blob lab --------------------------------------------------------------------------


def _checksum(mode: str, size_mb: int, chunk_mb: int) -> str:
    """Dispatch to the buffering or the streaming implementation."""
    hold = _lab().config.blob_hold_ms_per_mb / 1000.0
    if mode == "buffer":
        return blob.checksum_buffered(size_mb, hold)
    return blob.checksum_streamed(size_mb, chunk_mb, hold)


def _process_blob(mode: str, size_mb: int, chunk_mb: int) -> tuple[Response, int]:
    """Checksum one synthetic blob; a MemoryError becomes a 507 and a log line."""
    pid = os.getpid()
    emit(f"[OOM-TEST] blob mode={mode} size_mb={size_mb} chunk_mb={chunk_mb} pid={pid}")
    started = time.perf_counter()
    try:
        digest = _checksum(mode, size_mb, chunk_mb)
    except MemoryError:
        emit(f"[OOM-TEST] MemoryError mode={mode} size_mb={size_mb} pid={pid}")
        return jsonify(error="MemoryError", mode=mode, size_mb=size_mb, pid=pid), 507
    elapsed_ms = (time.perf_counter() - started) * 1000
    return (
        jsonify(
            mode=mode,
            size_mb=size_mb,
            chunk_mb=chunk_mb,
            sha256=digest,
            elapsed_ms=round(elapsed_ms, 1),
            pid=pid,
        ),
        200,
    )


@bp.post("/blob/process")
def blob_process() -> tuple[Response, int]:
    """Process a blob under the concurrency cap; 503 when no slot frees up in time."""
    lab = _lab()
    body = _body()
    size_mb = int_field(body, "size_mb", BLOB_DEFAULT_SIZE_MB, minimum=1, maximum=lab.config.max_mb)
    mode = choice_field(body, "mode", "buffer", BLOB_MODES)
    chunk_mb = int_field(body, "chunk_mb", BLOB_DEFAULT_CHUNK_MB, minimum=1, maximum=lab.config.max_mb)
    if not lab.blob_gate.acquire(lab.config.blob_wait_s):
        return (
            jsonify(
                error="blob concurrency limit reached",
                slots=lab.blob_gate.slots,
                waited_s=lab.config.blob_wait_s,
                pid=os.getpid(),
            ),
            503,
        )
    try:
        return _process_blob(mode, size_mb, chunk_mb)
    finally:
        lab.blob_gate.release()


# --- assembly --------------------------------------------------------------------------


def create_app(config: LabConfig | None = None) -> Flask:
    """Build an app with its own state; ``config`` defaults to the environment's."""
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = LabState.create(config or LabConfig.from_env())
    app.register_blueprint(bp)
    app.before_request(_log_request_start)
    app.after_request(_log_request_end)
    app.register_error_handler(BadInput, _bad_input)
    app.register_error_handler(MemoryError, _memory_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


app = create_app()
