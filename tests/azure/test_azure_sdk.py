"""The real AzureApi over stand-in SDK modules: imports, credentials, calls and error translation.

The stand-ins mirror the names the Azure SDKs export (``azure.identity``,
``azure.core.exceptions``, ``azure.mgmt.appcontainers``, ``azure.monitor.query``), so these
tests run whether or not the SDKs are installed; ``test_azure_sdk_real.py`` checks the
same calls against the real SDKs when they are.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from azure_testkit import at

from harness.backends.azure.errors import AzureError
from harness.backends.azure.exported import log_rows
from harness.backends.azure.queries import WORKING_SET
from harness.backends.azure.sdk import SdkAzureApi
from harness.backends.azure.settings import AzureSettings

SETTINGS = AzureSettings(subscription_id="sub-1", resource_group="rg", environment="env", image="lab:1",
                         deploy_timeout_s=5.0)
APP_ID = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.App/containerApps/app-1"


class HttpResponseError(Exception):
    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ClientAuthenticationError(HttpResponseError):
    pass


class ResourceNotFoundError(HttpResponseError):
    pass


class CredentialUnavailableError(ClientAuthenticationError):
    pass


class MsrestModel:
    """Like SDK 3.x/4.x models: ``serialize`` gives the REST JSON."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def serialize(self, keep_readonly: bool = False) -> dict[str, Any]:
        assert keep_readonly
        return self.data


class MappingModel(dict):  # type: ignore[type-arg]
    """Like SDK 5.x models: a mapping keyed by REST names, with ``as_dict``."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self)


class Poller:
    def __init__(self, result: Any, done: bool = True) -> None:
        self._result, self._done = result, done

    def result(self, timeout: float | None = None) -> Any:
        return self._result

    def done(self) -> bool:
        return self._done


class Token:
    token = "tok-123"


class Credential:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.scopes: list[str] = []

    def get_token(self, *scopes: str) -> Token:
        self.scopes += scopes
        if self.error:
            raise self.error
        return Token()


class Sdk:
    """The stand-in SDK state the tests set up and inspect."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.answers: dict[str, Any] = {}
        self.client_options: dict[str, Any] = {}

    def op(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            answer = self.answers.get(name)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return call


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sdk]:
    state = Sdk()

    def module(name: str, **attrs: Any) -> None:
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, mod)

    class ContainerAppsAPIClient:
        def __init__(self, credential: Any, subscription_id: str, **options: Any) -> None:
            state.client_options = {"subscription_id": subscription_id, **options}
            self.container_apps = types.SimpleNamespace(
                begin_create_or_update=state.op("create"), begin_delete=state.op("delete"), get=state.op("get"))
            self.managed_environments = types.SimpleNamespace(get=state.op("environment"))
            self.container_apps_revision_replicas = types.SimpleNamespace(list_replicas=state.op("replicas"))

    class LogsQueryClient:
        def __init__(self, credential: Any, **options: Any) -> None:
            self.query_workspace = state.op("logs")

    class DefaultAzureCredential(Credential):
        def __init__(self) -> None:
            super().__init__(CredentialUnavailableError(
                "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
                "Attempted credentials:\n\tEnvironmentCredential: EnvironmentCredential authentication unavailable."))

    for name in ("azure", "azure.core", "azure.mgmt", "azure.monitor"):
        module(name)
    module("azure.core.exceptions", HttpResponseError=HttpResponseError,
           ClientAuthenticationError=ClientAuthenticationError, ResourceNotFoundError=ResourceNotFoundError)
    module("azure.identity", CredentialUnavailableError=CredentialUnavailableError,
           DefaultAzureCredential=DefaultAzureCredential)
    module("azure.mgmt.appcontainers", ContainerAppsAPIClient=ContainerAppsAPIClient)
    module("azure.monitor.query", LogsQueryClient=LogsQueryClient,
           LogsQueryStatus=types.SimpleNamespace(SUCCESS="Success", PARTIAL="PartialError"))
    yield state


def api(credential: Any = None, http: httpx.Client | None = None) -> SdkAzureApi:
    return SdkAzureApi(SETTINGS, credential=credential or Credential(), http=http)


def test_a_missing_sdk_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    monkeypatch.setitem(sys.modules, "azure.core.exceptions", None)
    with pytest.raises(AzureError) as caught:
        SdkAzureApi(SETTINGS, credential=Credential())
    assert "\n" not in str(caught.value) and str(caught.value).endswith("pip install '.[azure]'")
    assert isinstance(caught.value.__cause__, ImportError)


def test_missing_credentials_are_one_line_before_anything_is_created(sdk: Sdk) -> None:
    with pytest.raises(AzureError) as caught:
        SdkAzureApi(SETTINGS)  # DefaultAzureCredential finds nothing
    message = str(caught.value)
    assert message.startswith("no usable Azure credentials (DefaultAzureCredential failed to retrieve a token")
    assert "az login" in message and "\n" not in message
    assert sdk.calls == []


def test_a_refused_credential_is_translated_too(sdk: Sdk) -> None:
    with pytest.raises(AzureError, match=r"no usable Azure credentials \(AADSTS7000215: invalid secret\)"):
        api(Credential(ClientAuthenticationError("AADSTS7000215: invalid secret\ntrace")))


def test_create_sends_the_arm_body_as_json_and_returns_rest_json(sdk: Sdk) -> None:
    app = {"id": APP_ID, "properties": {"configuration": {"ingress": {"fqdn": "app-1.example"}}}}
    sdk.answers["create"] = Poller(MsrestModel(app))
    body = {"location": "koreacentral", "properties": {"template": {"scale": {"minReplicas": 1}}}}
    assert api().create_app("rg", "app-1", body) == app
    ((name, (group, app_name, stream), kwargs),) = sdk.calls
    assert (name, group, app_name, kwargs) == ("create", "rg", "app-1", {"content_type": "application/json"})
    assert json.loads(stream.read()) == body
    assert sdk.client_options == {"subscription_id": "sub-1"}


def test_a_deployment_that_does_not_finish_is_an_error(sdk: Sdk) -> None:
    sdk.answers["create"] = Poller(None, done=False)
    with pytest.raises(AzureError, match="creating container app app-1: not finished after 5s"):
        api().create_app("rg", "app-1", {})


def test_sdk_errors_become_one_line_azure_errors(sdk: Sdk) -> None:
    sdk.answers["environment"] = HttpResponseError("(ResourceNotFound) The Resource 'env' was not found.\nCode: x")
    message = r"^reading environment env: \(ResourceNotFound\) The Resource 'env' was not found\.$"
    with pytest.raises(AzureError, match=message):
        api().environment("rg", "env")


def test_deleting_an_app_that_is_gone_is_not_an_error(sdk: Sdk) -> None:
    sdk.answers["delete"] = ResourceNotFoundError("gone")
    api().delete_app("rg", "app-1")
    sdk.answers["delete"] = Poller(None)
    api().delete_app("rg", "app-1")
    assert [c[0] for c in sdk.calls] == ["delete", "delete"]


def test_replicas_of_the_latest_revision_in_either_model_style(sdk: Sdk) -> None:
    sdk.answers["get"] = MappingModel({"properties": {"latestRevisionName": "app-1--0000001",
                                                      "configuration": {"ingress": {"fqdn": "app-1.example"}}}})
    replica = {"name": "r1", "properties": {"containers": [{"name": "lab", "restartCount": 2}]}}
    sdk.answers["replicas"] = types.SimpleNamespace(value=[MappingModel(replica), MsrestModel(replica)])
    assert api().list_replicas("rg", "app-1") == [replica, replica]
    assert ("replicas", ("rg", "app-1", "app-1--0000001"), {}) in sdk.calls
    assert api().app_fqdn("rg", "app-1") == "app-1.example"


def test_log_rows_come_back_as_az_prints_them(sdk: Sdk) -> None:
    when = datetime(2026, 4, 10, 14, 8, 14, 502000, tzinfo=UTC)
    table = types.SimpleNamespace(name="PrimaryResult", columns=["TimeGenerated", "Log_s", "Count_d"],
                                  rows=[[when, "Worker (pid:7) was sent SIGKILL!", 1.0]])
    sdk.answers["logs"] = types.SimpleNamespace(status="Success", tables=[table])
    rows = api().query_logs("ws-1", "ContainerAppConsoleLogs_CL", at("2026-04-10T14:00:00+00:00"),
                            at("2026-04-10T14:30:00+00:00"))
    assert rows == [{"TableName": "PrimaryResult", "TimeGenerated": "2026-04-10T14:08:14.502000Z",
                     "Log_s": "Worker (pid:7) was sent SIGKILL!", "Count_d": "1.0"}]
    ((_, (workspace, query), kwargs),) = sdk.calls
    assert (workspace, query) == ("ws-1", "ContainerAppConsoleLogs_CL")
    assert kwargs["timespan"][0] == datetime(2026, 4, 10, 14, 0, tzinfo=UTC)
    assert log_rows(rows, "logs")[0].t == pytest.approx(when.timestamp())


def test_a_partial_log_result_is_an_error(sdk: Sdk) -> None:
    sdk.answers["logs"] = types.SimpleNamespace(status="PartialError", partial_error="query limit exceeded\nmore")
    with pytest.raises(AzureError, match=r"partial result \(query limit exceeded\)"):
        api().query_logs("ws-1", "q", 0.0, 60.0)


def test_metrics_come_from_the_arm_metrics_api_with_a_bearer_token(sdk: Sdk) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"interval": "PT1M", "value": []})

    http = httpx.Client(base_url="https://management.azure.com", transport=httpx.MockTransport(handler))
    credential = Credential()
    answer = api(credential, http).query_metrics(APP_ID, WORKING_SET, at("2026-04-10T14:00:00+00:00"),
                                                 at("2026-04-10T14:30:00+00:00"))
    assert answer == {"interval": "PT1M", "value": []}
    (request,) = seen
    assert request.url.path == f"{APP_ID}/providers/Microsoft.Insights/metrics"
    params: Mapping[str, str] = dict(request.url.params)
    assert params == {"api-version": "2023-10-01", "metricnames": "WorkingSetBytes",
                      "metricnamespace": "Microsoft.App/containerApps", "aggregation": "Average", "interval": "PT1M",
                      "timespan": "2026-04-10T14:00:00Z/2026-04-10T14:30:00Z"}
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert credential.scopes == ["https://management.azure.com/.default"] * 2


def test_a_refused_metrics_request_names_the_metric_and_arms_message(sdk: Sdk) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": {"code": "AuthorizationFailed",
                                                   "message": "The client does not have authorization."}})

    http = httpx.Client(base_url="https://management.azure.com", transport=httpx.MockTransport(handler))
    with pytest.raises(AzureError, match=r"^reading metric WorkingSetBytes: HTTP 403 The client does not have"):
        api(http=http).query_metrics(APP_ID, WORKING_SET, 0.0, 60.0)
