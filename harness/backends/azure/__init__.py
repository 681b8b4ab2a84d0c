"""The Azure backend: scenarios on Azure Container Apps, through the optional ``azure`` extra.

Importing this package needs no Azure SDK: only :class:`~harness.backends.azure.sdk.SdkAzureApi`
imports them, when it is built. The backend talks to Azure through the small
:class:`~harness.backends.azure.api.AzureApi` protocol, so tests (and the recorded fake)
run it offline; :mod:`~harness.backends.azure.exported` and :mod:`~harness.backends.azure.mapping`
read what Azure prints into the shared evidence model, for runs and for ``harness import``.
"""

from harness.backends.azure.backend import AzureBackend, AzureSession
from harness.backends.azure.errors import AzureDataError, AzureError
from harness.backends.azure.settings import AzureSettings

__all__ = ["AzureBackend", "AzureDataError", "AzureError", "AzureSession", "AzureSettings"]
