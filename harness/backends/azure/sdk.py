"""The real :class:`~harness.backends.azure.api.AzureApi`, over the Azure SDKs (the ``azure`` extra).

The SDKs are imported when this class is built, never at module import, so the harness
works without them and ``--backend azure`` says in one line what to install. Credentials
are checked at once (one token request), so a missing ``az login`` is reported before
anything is created.

* Container Apps: ``azure.mgmt.appcontainers.ContainerAppsAPIClient`` (``container_apps``,
  ``managed_environments``, ``container_apps_revision_replicas``). The app body is sent as
  the ARM JSON itself (the operations accept a JSON byte stream in every SDK major
  version), and answers are turned back into that JSON.
* Logs: ``azure.monitor.query.LogsQueryClient.query_workspace``; rows are printed the way
  ``az monitor log-analytics query`` prints them.
* Metrics: the ARM metrics REST API with a token from the same credential.
  ``azure-monitor-query`` 2.x no longer has ``MetricsQueryClient``, and the REST answer
  is exactly what ``az monitor metrics list`` prints.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from harness.backends.azure.errors import AzureError
from harness.backends.azure.queries import MetricRequest, iso
from harness.backends.azure.settings import AzureSettings
from harness.errors import first_line

ARM_ENDPOINT = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
INSTALL_HINT = "pip install '.[azure]'"

T = TypeVar("T")


def as_json(model: Any) -> dict[str, Any]:
    """An SDK model as REST JSON: ``serialize`` on msrest models (SDK 3.x/4.x), ``as_dict``
    on the newer ones (5.x, already keyed by REST names), or the mapping itself."""
    serialize = getattr(model, "serialize", None)
    if callable(serialize):
        return dict(serialize(keep_readonly=True))
    as_dict = getattr(model, "as_dict", None)
    if callable(as_dict):
        return dict(as_dict())
    if isinstance(model, Mapping):
        return dict(model)
    raise AzureError(f"unexpected answer from the Azure SDK: {type(model).__name__}")


def cli_value(value: Any) -> str:
    """A cell as ``az monitor log-analytics query`` prints it (text; times in ISO 8601 UTC)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def cli_rows(tables: Any) -> list[dict[str, str]]:
    """SDK result tables as the list of rows ``az monitor log-analytics query`` prints."""
    rows = []
    for table in tables or []:
        names = [c if isinstance(c, str) else getattr(c, "name", str(c)) for c in table.columns]
        for row in table.rows:
            item = {"TableName": str(getattr(table, "name", "PrimaryResult"))}
            item.update({name: cli_value(value) for name, value in zip(names, row, strict=False)})
            rows.append(item)
    return rows


class SdkAzureApi:
    """Azure Container Apps, Log Analytics and Azure Monitor through the Azure SDKs."""

    def __init__(
        self, settings: AzureSettings, credential: Any | None = None, http: httpx.Client | None = None,
        **client_options: Any,
    ) -> None:
        """Import the SDKs and check the credential.

        ``credential`` defaults to ``DefaultAzureCredential()``; ``http`` is the client for
        the metrics API; ``client_options`` go to the SDK clients (e.g. ``transport``).
        """
        try:
            from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
            from azure.identity import CredentialUnavailableError, DefaultAzureCredential
            from azure.mgmt.appcontainers import ContainerAppsAPIClient
            from azure.monitor.query import LogsQueryClient, LogsQueryStatus
        except ImportError as exc:
            missing = exc.name or "an Azure SDK"
            raise AzureError(f"--backend azure needs the Azure SDKs ({missing} is missing): {INSTALL_HINT}") from exc
        self.settings = settings
        self._auth_errors: tuple[type[BaseException], ...] = (CredentialUnavailableError, ClientAuthenticationError)
        self._http_error: type[BaseException] = HttpResponseError
        self._not_found: type[BaseException] = ResourceNotFoundError
        self._partial = LogsQueryStatus.PARTIAL
        self.credential = credential if credential is not None else DefaultAzureCredential()
        self._token()  # fail now, before anything is created
        self.apps = ContainerAppsAPIClient(self.credential, settings.subscription_id, **client_options)
        self.logs = LogsQueryClient(self.credential, **client_options)
        self.http = http or httpx.Client(base_url=ARM_ENDPOINT, timeout=60.0)

    def _token(self) -> str:
        try:
            return str(self.credential.get_token(ARM_SCOPE).token)
        except self._auth_errors as exc:
            raise AzureError(f"no usable Azure credentials ({first_line(exc)}): sign in with `az login` "
                             "or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET") from exc

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one SDK call, translating its errors into one-line :class:`AzureError`."""
        try:
            return fn(*args, **kwargs)
        except self._auth_errors as exc:
            raise AzureError(f"{what}: Azure refused the credentials ({first_line(exc)})") from exc
        except self._http_error as exc:
            raise AzureError(f"{what}: {first_line(exc)}") from exc

    def _wait(self, what: str, poller: Any) -> Any:
        result = self._call(what, poller.result, timeout=self.settings.deploy_timeout_s)
        if not poller.done():
            raise AzureError(f"{what}: not finished after {self.settings.deploy_timeout_s:g}s")
        return result

    def environment(self, resource_group: str, name: str) -> dict[str, Any]:
        return as_json(self._call(f"reading environment {name}", self.apps.managed_environments.get,
                                  resource_group, name))

    def create_app(self, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        what = f"creating container app {name}"
        stream = io.BytesIO(json.dumps(body).encode("utf-8"))
        poller = self._call(what, self.apps.container_apps.begin_create_or_update, resource_group, name, stream,
                            content_type="application/json")
        app = self._wait(what, poller)
        return as_json(app) if app is not None else self._app(resource_group, name)

    def delete_app(self, resource_group: str, name: str) -> None:
        what = f"deleting container app {name}"
        try:
            poller = self.apps.container_apps.begin_delete(resource_group, name)
        except self._not_found:
            return
        except self._http_error as exc:
            raise AzureError(f"{what}: {first_line(exc)}") from exc
        self._wait(what, poller)

    def _app(self, resource_group: str, name: str) -> dict[str, Any]:
        return as_json(self._call(f"reading container app {name}", self.apps.container_apps.get,
                                  resource_group, name))

    def app_fqdn(self, resource_group: str, name: str) -> str:
        from harness.backends.azure.deploy import fqdn_of

        fqdn = fqdn_of(self._app(resource_group, name))
        if not fqdn:
            raise AzureError(f"container app {name} has no ingress address")
        return fqdn

    def list_replicas(self, resource_group: str, name: str) -> list[dict[str, Any]]:
        revision = (self._app(resource_group, name).get("properties") or {}).get("latestRevisionName")
        if not revision:
            return []
        collection = self._call(f"listing replicas of {name}", self.apps.container_apps_revision_replicas.list_replicas,
                                resource_group, name, revision)
        return [as_json(replica) for replica in getattr(collection, "value", None) or []]

    def query_logs(self, workspace_id: str, query: str, start: float, end: float) -> list[dict[str, Any]]:
        span = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        result = self._call("querying Log Analytics", self.logs.query_workspace, workspace_id, query, timespan=span)
        if getattr(result, "status", None) == self._partial:
            error = getattr(result, "partial_error", None)
            raise AzureError(f"querying Log Analytics: partial result ({first_line(error)})")
        return cli_rows(getattr(result, "tables", None))

    def query_metrics(self, resource_id: str, request: MetricRequest, start: float, end: float) -> dict[str, Any]:
        what = f"reading metric {request.metric}"
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            response = self.http.get(f"{resource_id}/providers/Microsoft.Insights/metrics",
                                     params=request.params(iso(start), iso(end)), headers=headers)
        except httpx.HTTPError as exc:
            raise AzureError(f"{what}: {exc}") from exc
        if response.status_code != 200:
            raise AzureError(f"{what}: HTTP {response.status_code} {_arm_message(response)}")
        try:
            return dict(response.json())
        except ValueError as exc:
            raise AzureError(f"{what}: the answer is not JSON") from exc


def _arm_message(response: httpx.Response) -> str:
    """The ``error.message`` of an ARM error answer, else its first line."""
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") or error.get("code") or "").splitlines()[0]
    except (ValueError, AttributeError, IndexError):
        return response.text.strip().splitlines()[0] if response.text.strip() else ""
