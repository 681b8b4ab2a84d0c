"""The harness's error hierarchy.

Every failure a user can cause or meet derives from :class:`HarnessError`, so the CLI and
the pytest plugin can catch one type. Backend errors (docker SDK, Azure SDK) are translated
into these at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


def first_line(exc: object, limit: int = 300) -> str:
    """The first line of an exception's text (at most ``limit`` characters), or its type's
    name: how an error from below (an engine's, an SDK's) is named in a message or a reason."""
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0].strip()[:limit] if text else type(exc).__name__


class HarnessError(Exception):
    """Root of all harness errors. The CLI prints ``error: <message>``."""

    exit_code = 2


class UsageError(HarnessError):
    """The command line asks for something that cannot be done (options that conflict)."""


class ScenarioError(HarnessError):
    """A scenario file is unreadable or invalid. The message names the file and the field."""


class EngineError(HarnessError):
    """No container engine is reachable, or the engine refused an operation."""


class EngineLost(EngineError):
    """The engine went away mid-run (crashed or restarted): the run is void."""

    def __init__(self, reason: str, run: int | None = None) -> None:
        self.reason, self.run = reason, run
        where = f"run {run}: " if run is not None else ""
        super().__init__(f"{where}lost the engine during the run ({reason}): what it did to the target "
                         "meanwhile is unknown, so the run is void and nothing is judged. Check the engine "
                         "(harness setup starts it) and run again")


class ImageError(HarnessError):
    """The lab image cannot be built or found."""


class RunTimeout(HarnessError):
    """A bounded wait in a scenario ran out of time."""


class ResultError(HarnessError):
    """A result or evidence file cannot be read."""


class ExpectationFailed(HarnessError):
    """A run finished but one of the scenario's expectations did not hold."""

    exit_code = 1


class GuestError(HarnessError):
    """The cgroup v2 guest cannot be built, booted or reached, or a job in it failed."""
