"""A reaper that speaks testcontainers' Ryuk protocol, built offline (stdlib Python only).

testcontainers starts one reaper per test or harness session and keeps a TCP connection
to it. Each line a client sends is a filter in query-string form
(``label=org.testcontainers.session-id=<id>``), answered with ``ACK``. Once every
connection has closed -- the session ended, or its process was killed with SIGKILL, which
the kernel turns into a closed socket -- the reaper waits ``RYUK_RECONNECTION_TIMEOUT``
(default 10s) for a new connection and then removes every container, network and volume
matching any filter it was sent, and exits. With no connection within
``RYUK_CONNECTION_TIMEOUT`` (default 60s) it exits without removing anything.

The public reaper image comes from a registry; this one is built from the same local
Debian base as the lab image, so it works where no registry can be reached. It talks to
the engine over the Docker socket mounted at /var/run/docker.sock.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from typing import Any

DOCKER_SOCKET = "/var/run/docker.sock"
PORT = 8080
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, default_s: float) -> float:
    """Seconds in a Go-style duration (``10s``, ``500ms``, ``1m30s``); ``default_s`` when unreadable."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return default_s
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def parse_filter(line: str) -> dict[str, list[str]]:
    """One protocol line as Docker list filters: ``label=a=b&label=c`` -> {"label": ["a=b", "c"]}."""
    parsed = urllib.parse.parse_qs(line.strip(), keep_blank_values=True)
    return {key: values for key, values in parsed.items() if key in ("label", "name", "id")}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def engine(method: str, path: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    """One Docker API call over the socket: (status, decoded JSON body or None)."""
    connection = _UnixConnection(DOCKER_SOCKET)
    try:
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        connection.request(method, url)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(body) if body else None
    except ValueError:
        return response.status, None


def prune(filters: list[dict[str, list[str]]], log: Any = print) -> dict[str, int]:
    """Remove the containers, then networks, then volumes matching each filter."""
    counts = {"containers": 0, "networks": 0, "volumes": 0}
    for wanted in filters:
        encoded = json.dumps(wanted)
        _, containers = engine("GET", "/containers/json", {"all": "1", "filters": encoded})
        for container in containers or []:
            status, _ = engine("DELETE", f"/containers/{container['Id']}", {"force": "1", "v": "1"})
            counts["containers"] += status in (204, 404)
        _, networks = engine("GET", "/networks", {"filters": encoded})
        for network in networks or []:
            counts["networks"] += _remove_network(network["Id"])
        _, volumes = engine("GET", "/volumes", {"filters": encoded})
        for volume in (volumes or {}).get("Volumes") or []:
            status, _ = engine("DELETE", f"/volumes/{volume['Name']}")
            counts["volumes"] += status in (204, 404)
    log(f"Removed {counts['containers']} container(s), {counts['networks']} network(s), "
        f"{counts['volumes']} volume(s)", flush=True)
    return counts


def _remove_network(network_id: str, attempts: int = 10) -> bool:
    """A network whose containers are still being removed answers 403 for a moment: retry."""
    for _ in range(attempts):
        status, _ = engine("DELETE", f"/networks/{network_id}")
        if status in (204, 404):
            return True
        time.sleep(0.5)
    return False


class Reaper:
    """Counts connections, collects filters, and prunes once nobody is connected."""

    def __init__(self, reconnection_s: float, connection_s: float) -> None:
        self.reconnection_s = reconnection_s
        self.connection_s = connection_s
        self.filters: list[dict[str, list[str]]] = []
        self.connected = 0
        self.ever_connected = False
        self.changed = threading.Condition()

    def serve(self, conn: socket.socket) -> None:
        """One client: every line is a filter, answered with ACK; returns when it closes."""
        with self.changed:
            self.connected += 1
            self.ever_connected = True
            self.changed.notify_all()
        buffer = b""
        try:
            while chunk := conn.recv(4096):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    wanted = parse_filter(line.decode("utf-8", "replace"))
                    if wanted:
                        with self.changed:
                            if wanted not in self.filters:
                                self.filters.append(wanted)
                    conn.sendall(b"ACK\n")
        except OSError:
            pass
        finally:
            conn.close()
            with self.changed:
                self.connected -= 1
                self.changed.notify_all()

    def wait_until_abandoned(self) -> bool:
        """Block until every client has been gone for the reconnection time-out; False when
        no client ever connected within the connection time-out."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.ever_connected, timeout=self.connection_s):
                return False
            while True:
                self.changed.wait_for(lambda: self.connected == 0)
                if not self.changed.wait_for(lambda: self.connected > 0, timeout=self.reconnection_s):
                    return True


def main() -> int:
    reaper = Reaper(parse_duration(os.environ.get("RYUK_RECONNECTION_TIMEOUT", "10s"), 10.0),
                    parse_duration(os.environ.get("RYUK_CONNECTION_TIMEOUT", "60s"), 60.0))
    server = socket.create_server(("0.0.0.0", int(os.environ.get("RYUK_PORT", PORT))))

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=reaper.serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print(f"{time.strftime('%Y/%m/%d %H:%M:%S')} Started!", flush=True)
    if reaper.wait_until_abandoned():
        print(f"{time.strftime('%Y/%m/%d %H:%M:%S')} All clients gone; pruning {reaper.filters}", flush=True)
        prune(reaper.filters)
    else:
        print("No client connected; exiting", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
