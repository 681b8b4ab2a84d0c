"""What the backend needs from Azure, as a small protocol.

Every answer comes back in the JSON shape the ``az`` CLI prints for the same request
(``az containerapp show``, ``az containerapp replica list``, ``az monitor log-analytics
query``, ``az monitor metrics list``). So one reader (:mod:`harness.backends.azure.exported`)
serves a live run, the recorded fakes of the tests, and ``harness import``.

:class:`~harness.backends.azure.sdk.SdkAzureApi` implements it over the Azure SDKs and
:class:`~harness.backends.azure.fake.FakeAzureApi` over recorded JSON.
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.backends.azure.queries import MetricRequest

JsonObject = dict[str, Any]


class AzureApi(Protocol):
    """The Azure calls of one run: deploy, address, observe, remove."""

    def environment(self, resource_group: str, name: str) -> JsonObject:
        """The Container Apps environment (``az containerapp env show``)."""

    def create_app(self, resource_group: str, name: str, body: JsonObject) -> JsonObject:
        """Create a Container App from an ARM body and wait until it is provisioned
        (returns what ``az containerapp show`` prints)."""

    def delete_app(self, resource_group: str, name: str) -> None:
        """Delete a Container App and wait until it is gone; no error if it never existed."""

    def app_fqdn(self, resource_group: str, name: str) -> str:
        """The public host name of the app's ingress."""

    def list_replicas(self, resource_group: str, name: str) -> list[JsonObject]:
        """The replicas of the app's latest revision (``az containerapp replica list``)."""

    def query_logs(self, workspace_id: str, query: str, start: float, end: float) -> list[JsonObject]:
        """Rows of a KQL query over [start, end] (``az monitor log-analytics query``)."""

    def query_metrics(self, resource_id: str, request: MetricRequest, start: float, end: float) -> JsonObject:
        """One platform metric over [start, end] (``az monitor metrics list``)."""
