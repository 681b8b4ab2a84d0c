"""Client log lines: what the client of an incident or experiment saw, one request a line.

Two forms, mixed freely (blank lines and ``#`` comments are skipped):

* text: ``TIME METHOD PATH RESULT [LATENCY_MS] [anything]``, where RESULT is an HTTP
  status or an error kind (``reset``, ``empty_reply``, ``timeout``, ``connect``, ``5xx``),
  e.g. ``2026-04-10T14:15:02Z POST /spike 503 30012ms upstream connect error``;
* JSON: one object per line with the fields of the harness's own request records
  (``t``, ``method``, ``path``, ``status``, ``error``, ``latency_ms``; ``step`` optional),
  as in the ``requests`` of a ``result.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.backends.azure.errors import AzureDataError
from harness.backends.azure.exported import parse_time
from harness.collectors.client import classify_status
from harness.evidence import ClientRequest

ERROR_KINDS = ("reset", "empty_reply", "timeout", "connect", "5xx", "transport")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_LATENCY = re.compile(r"(\d+(?:\.\d+)?)(?:ms)?")
_FORM = "TIME METHOD PATH STATUS|ERROR [LATENCY_MS]"


def read_client_log(path: Path) -> list[ClientRequest]:
    """Every request in a client log file, in time order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise AzureDataError(f"{path}: no such file") from exc
    except OSError as exc:
        raise AzureDataError(f"{path}: cannot read ({exc.strerror})") from exc
    requests = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}: line {number}"
        requests.append(_from_json(line, where) if line.startswith("{") else _from_text(line, where))
    return sorted(requests, key=lambda r: r.t)


def _from_text(line: str, where: str) -> ClientRequest:
    parts = line.split()
    if len(parts) < 4:
        raise AzureDataError(f"{where}: expected '{_FORM}', got {line[:80]!r}")
    stamp, method, path, result = parts[:4]
    t = parse_time(stamp, f"{where}: time")
    method = method.upper()
    if method not in METHODS:
        raise AzureDataError(f"{where}: {parts[1]!r} is not an HTTP method (expected '{_FORM}')")
    if not path.startswith("/"):
        raise AzureDataError(f"{where}: path {path!r} must start with '/'")
    status, error = _result(result, where)
    latency = _LATENCY.fullmatch(parts[4]) if len(parts) > 4 else None
    return ClientRequest(t, path, method, path, status, error, float(latency.group(1)) if latency else 0.0)


def _result(token: str, where: str) -> tuple[int | None, str | None]:
    if token.isdigit() and len(token) == 3:
        status = int(token)
        return status, classify_status(status, None)
    if token.lower() in ERROR_KINDS:
        return None, token.lower()
    raise AzureDataError(f"{where}: {token!r} is neither an HTTP status nor one of {', '.join(ERROR_KINDS)}")


def _from_json(line: str, where: str) -> ClientRequest:
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AzureDataError(f"{where}: not JSON ({exc.msg})") from exc
    try:
        t = data["t"]
        method, path = str(data["method"]).upper(), str(data["path"])
    except (KeyError, TypeError) as exc:
        raise AzureDataError(f"{where}: a JSON request needs t, method and path") from exc
    t = float(t) if isinstance(t, (int, float)) else parse_time(t, f"{where}: t")
    status = data.get("status")
    if status is not None and not isinstance(status, int):
        raise AzureDataError(f"{where}: status {status!r} is not a number")
    error = data.get("error")
    if error is None and status is not None:
        error = classify_status(status, None)
    return ClientRequest(t, str(data.get("step") or path), method, path, status, error,
                         float(data.get("latency_ms") or 0.0), data.get("request_id"))
