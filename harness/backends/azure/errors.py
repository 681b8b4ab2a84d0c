"""Errors of the Azure backend and of reading what Azure exported.

Both derive from the harness's own types, so the CLI prints one ``error: ...`` line and
exits 2 whatever went wrong on the Azure side.
"""

from __future__ import annotations

from harness.errors import EngineError, ResultError


class AzureError(EngineError):
    """The Azure SDKs, credentials, settings or an Azure API call failed."""


class AzureDataError(ResultError):
    """A file (or an API answer) is not in the shape Azure prints; the message names it."""
