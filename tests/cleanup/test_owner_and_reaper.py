"""Owner labels and the offline reaper's protocol, without an engine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.backends.docker.owner import Owner
from harness.procs import process_identity, start_ticks
from harness.reaper.ryuk import Reaper, parse_duration, parse_filter


def test_this_process_is_its_own_live_owner() -> None:
    owner = Owner.parse(process_identity())
    assert owner is not None and owner.pid == os.getpid() and owner.host == socket.gethostname()
    assert not owner.is_gone()


def test_a_finished_process_is_a_gone_owner() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    identity = process_identity(child.pid)
    child.wait()
    owner = Owner.parse(identity)
    assert owner is not None and owner.is_gone()


def test_a_reused_pid_is_a_gone_owner() -> None:
    """Same pid, another start time: a later process, not the owner."""
    owner = Owner(socket.gethostname(), os.getpid(), (start_ticks(os.getpid(), Path("/proc")) or 0) + 1)
    assert owner.is_gone()


def test_an_owner_on_another_host_is_never_called_gone() -> None:
    assert not Owner("some-other-host", 1, 1).is_gone()


@pytest.mark.parametrize("value", ["", "4242", "host/abc/1", "host/1", "/1/2"])
def test_labels_of_another_form_are_no_owner(value: str) -> None:
    assert Owner.parse(value) is None


def test_a_stat_line_with_spaces_and_parentheses_in_the_name(tmp_path: Path) -> None:
    (tmp_path / "77").mkdir()
    fields = ["S"] + ["0"] * 18 + ["123456"] + ["0"] * 10
    (tmp_path / "77" / "stat").write_text("77 (my (odd) name) " + " ".join(fields) + "\n")
    assert start_ticks(77, tmp_path) == 123456
    assert start_ticks(78, tmp_path) is None


@pytest.mark.parametrize("text, seconds", [("10s", 10.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0),
                                           ("", 10.0), ("ten", 10.0), ("10", 10.0)])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, 10.0) == seconds


def test_a_protocol_line_becomes_docker_filters() -> None:
    line = "label=org.testcontainers.session-id=abc&label=x\r\n"
    assert parse_filter(line) == {"label": ["org.testcontainers.session-id=abc", "x"]}
    assert parse_filter("nonsense\n") == {}


def _serve(reaper: Reaper) -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=reaper.serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


def test_the_reaper_acks_filters_and_prunes_only_after_every_client_left() -> None:
    reaper = Reaper(reconnection_s=0.3, connection_s=5)
    server, port = _serve(reaper)
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(reaper.wait_until_abandoned()))
    waiter.start()
    first = socket.create_connection(("127.0.0.1", port))
    first.sendall(b"label=org.testcontainers.session-id=abc\r\n")
    assert first.recv(16) == b"ACK\n"
    second = socket.create_connection(("127.0.0.1", port))
    second.sendall(b"label=org.testcontainers.session-id=abc\n")
    assert second.recv(16) == b"ACK\n"
    first.close()
    waiter.join(0.8)
    assert waiter.is_alive()  # one client is still connected
    second.close()  # as a SIGKILL of the client would
    waiter.join(3)
    server.close()
    assert outcome == [True]
    assert reaper.filters == [{"label": ["org.testcontainers.session-id=abc"]}]


def test_a_reaper_nobody_connects_to_prunes_nothing() -> None:
    reaper = Reaper(reconnection_s=0.1, connection_s=0.2)
    assert reaper.wait_until_abandoned() is False
