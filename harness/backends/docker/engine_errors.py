"""What the Docker SDK raises when the engine fails, and how the harness words it.

docker-py raises its own ``DockerException`` for answers the engine gave, but requests'
exceptions (connection refused, read time-out) pass through untranslated when the socket
fails mid-call, e.g. between a container's create and its start. Every engine call that
the harness maps to :class:`~harness.errors.EngineError` catches both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from docker.errors import DockerException
from requests.exceptions import ConnectionError as EngineUnreachable
from requests.exceptions import RequestException

T = TypeVar("T")

#: How long clean-up waits for an engine that stopped answering (a dockerd restart takes
#: about 11 s here, most of it stopping the containers it finds running), so what the run
#: made is removed by the run itself, not left to the reaper (killed by that restart too).
ENGINE_BACK_S = 45.0

#: The exceptions an engine call can raise for a failure of the engine or its socket.
ENGINE_ERRORS: tuple[type[Exception], ...] = (DockerException, RequestException)




def once_the_engine_answers(call: Callable[[], T], bound_s: float = ENGINE_BACK_S) -> T:
    """``call()``, retried while the engine's socket refuses connections (it is restarting),
    for at most ``bound_s`` seconds; any other failure, or the last refusal, is raised."""
    deadline = time.monotonic() + bound_s
    while True:
        try:
            return call()
        except EngineUnreachable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
