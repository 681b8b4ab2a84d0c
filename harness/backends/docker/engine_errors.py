"""What the Docker SDK raises when the engine fails, and how the harness words it.

docker-py raises its own ``DockerException`` for answers the engine gave, but requests'
exceptions (connection refused, read time-out) pass through untranslated when the socket
fails mid-call, e.g. between a container's create and its start. Every engine call that
the harness maps to :class:`~harness.errors.EngineError` catches both.
"""

from __future__ import annotations

from docker.errors import DockerException
from requests.exceptions import RequestException

#: The exceptions an engine call can raise for a failure of the engine or its socket.
ENGINE_ERRORS: tuple[type[Exception], ...] = (DockerException, RequestException)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (at most 300 characters), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
