"""The ingress proxy's access log: one line per client request, as the proxy saw it.

HAProxy writes, after each request ends::

    [INGRESS] id=3f2a9c1e0b7d method=POST path=/spike status=502 retries=5 term=SH-- \
Tc=7849 Tr=-1 Ta=9633 bytes=209

``retries`` is how many more times the proxy sent the request after the first attempt;
``term`` its termination state (``SH``: the server aborted before the response headers,
which is how a killed worker looks from the proxy). Times are milliseconds, -1 when that
phase never completed. This is the analogue of the platform ingress's (Envoy's) access
log, which Container Apps does not hand to its users.
"""

from __future__ import annotations

import re

from harness.collectors.console_logs import split_timestamp
from harness.evidence import Observation

SOURCE = "ingress"

_LINE = re.compile(
    r"\[INGRESS\] id=(?P<id>\S+) method=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>-?\d+) "
    r"retries=\+?(?P<retries>-?\d+) term=(?P<term>\S+) Tc=(?P<tc>-?\d+) Tr=(?P<tr>-?\d+) "
    r"Ta=(?P<ta>-?\d+) bytes=(?P<bytes>-?\d+)"
)


def parse_line(text: str, t: float) -> Observation | None:
    """One access-log line as an observation; None for anything else HAProxy prints."""
    match = _LINE.search(text)
    if match is None:
        return None
    fields = match.groupdict()
    return Observation(SOURCE, t, "request", False, {
        "request_id": None if fields["id"] == "-" else fields["id"],
        "method": fields["method"],
        "path": fields["path"],
        "status": _int_or_none(fields["status"]),
        "retries": int(fields["retries"]),
        "termination": fields["term"],
        "connect_ms": _int_or_none(fields["tc"]),
        "response_ms": _int_or_none(fields["tr"]),
        "total_ms": _int_or_none(fields["ta"]),
        "bytes": int(fields["bytes"]),
    })


def parse_logs(raw: str, fallback_t: float = 0.0) -> list[Observation]:
    """Every access-log line in a ``docker logs --timestamps`` dump, in order."""
    found = []
    for line in raw.splitlines():
        t, text = split_timestamp(line)
        obs = parse_line(text, t if t is not None else fallback_t)
        if obs is not None:
            found.append(obs)
    return found


def _int_or_none(value: str) -> int | None:
    number = int(value)
    return None if number < 0 else number
