"""A bounded pull: the engine's answers (one recorded from Docker 20.10 here with no
registry), and an engine that never answers, served on a real unix socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends.docker.pull import pull_within, split_tag

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "engine" / "pull_no_registry.http"


class Engine:
    """One connection at a time on a unix socket: sends ``answer`` (or nothing) and notes
    when the client closed its side."""

    def __init__(self, path: Path, answer: bytes | None) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.answer = answer
        self.closed_by_client = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            conn.recv(65536)
            if self.answer is not None:
                conn.sendall(self.answer)
                return
            conn.settimeout(10)
            try:
                while conn.recv(65536):
                    pass
                self.closed_by_client.set()
            except OSError:
                pass


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "docker.sock"
    yield path
    path.unlink(missing_ok=True)


def test_an_engine_that_never_answers_is_left_at_the_bound_and_nothing_runs_on(sock: Path) -> None:
    engine = Engine(sock, None)
    threads = set(threading.enumerate())
    started = time.monotonic()
    reason = pull_within("python:3.11-slim", 0.5, "1.41", f"unix://{sock}")
    took = time.monotonic() - started
    assert reason == "timed out after 0.5 s"
    assert 0.45 <= took < 2.0
    assert set(threading.enumerate()) <= threads  # no thread of the pull's outlives it
    assert engine.closed_by_client.wait(5)  # the connection is closed: the engine cancels its pull


def test_the_recorded_refusal_of_an_engine_with_no_registry(sock: Path) -> None:
    Engine(sock, RECORDED.read_bytes())
    reason = pull_within("python:3.11-slim", 5, "1.41", f"unix://{sock}")
    assert reason == ('500: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io '
                      "on 10.255.255.53:53: no such host")


@pytest.mark.parametrize("tag, parts", [
    ("python:3.11-slim", ("python", "3.11-slim")), ("debian", ("debian", "latest")),
    ("registry:5000/team/app", ("registry:5000/team/app", "latest")),
    ("registry:5000/team/app:1.2", ("registry:5000/team/app", "1.2")),
])
def test_tags(tag: str, parts: tuple[str, str]) -> None:
    assert split_tag(tag) == parts
