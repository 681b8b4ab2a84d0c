"""Pull an image within a time limit, leaving nothing running after it.

docker-py's pull sends its request with no time-out, so it can only be bounded from
another thread, and that thread then runs on after the bound for as long as the engine
tries the registry. Here the request is sent on a connection the harness holds, read with
a socket time-out set to the time left; when the time is up the connection is closed,
which also makes the engine cancel the pull. No thread is involved.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from urllib.parse import urlencode, urlparse

from harness.errors import first_line

DEFAULT_HOST = "unix:///var/run/docker.sock"


def pull_within(tag: str, timeout_s: float, api_version: str, docker_host: str | None = None) -> str | None:
    """Pull ``tag`` from its registry; None on success, else a one-line reason ("timed out
    after N s" when the time ran out). ``docker_host`` is as in DOCKER_HOST (a local socket
    or plain tcp); the engine's answer is read as the Docker API defines it."""
    repository, version = split_tag(tag)
    conn = _connection(docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST, timeout_s)
    if conn is None:
        raise ValueError(f"{docker_host}: not a local socket or plain tcp")
    deadline = time.monotonic() + timeout_s
    try:
        query = urlencode({"fromImage": repository, "tag": version})
        conn.request("POST", f"/v{api_version}/images/create?{query}", headers={"Content-Length": "0"})
        _time_left(conn, deadline)
        response = conn.getresponse()
        body = _read_until(response, conn, deadline)
        return pull_failure(response.status, body)
    except TimeoutError:
        return f"timed out after {timeout_s:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return f"the engine's answer broke off: {first_line(exc, 160)}"
    finally:
        conn.close()  # also ends the engine's pull when the time ran out


def split_tag(tag: str) -> tuple[str, str]:
    """``repo[:tag]`` into the repository and tag (``latest`` by default); a registry's
    port (``host:5000/repo``) is not a tag."""
    name, _, version = tag.rpartition(":")
    if not name or "/" in version:
        return tag, "latest"
    return name, version


def pull_failure(status: int, body: bytes) -> str | None:
    """The reason an engine's answer to a pull gives, None when it pulled.

    An engine refuses at once with a status >= 400 and ``{"message": ...}``; a pull that
    started answers 200 and streams JSON lines, the last one an ``{"error": ...}`` when it
    failed on the way."""
    if status >= 400:
        try:
            message = json.loads(body).get("message") or body.decode(errors="replace")
        except (ValueError, AttributeError):
            message = body.decode(errors="replace")
        return f"{status}: {str(message).strip().splitlines()[0][:160] if str(message).strip() else 'no reason given'}"
    for line in body.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("error"):
            return str(item["error"]).splitlines()[0][:160]
    return None


class UnixConnection(http.client.HTTPConnection):
    """Plain http.client over the engine's local socket."""

    def __init__(self, path: str, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def can_bound(docker_host: str | None = None) -> bool:
    """Whether :func:`pull_within` can reach this engine: a local socket, or tcp without TLS."""
    host = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    return _connection(host, 1.0) is not None and not os.environ.get("DOCKER_TLS_VERIFY")


def _connection(docker_host: str, timeout_s: float) -> http.client.HTTPConnection | None:
    url = urlparse(docker_host)
    if url.scheme == "unix":
        return UnixConnection(url.path, timeout_s)
    if url.scheme in ("tcp", "http") and url.hostname:
        return http.client.HTTPConnection(url.hostname, url.port or 2375, timeout=timeout_s)
    return None


def _time_left(conn: http.client.HTTPConnection, deadline: float) -> None:
    """The next read may wait only for the time left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if conn.sock is not None:
        conn.sock.settimeout(left)


def _read_until(response: http.client.HTTPResponse, conn: http.client.HTTPConnection, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        _time_left(conn, deadline)
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
