"""The real AzureApi against the real Azure SDKs (``pip install '.[azure]'``; CI installs them,
and there a missing SDK fails instead of skipping).

No request leaves the process: the SDKs' own ``RequestsTransport`` gets a ``requests``
session whose adapter answers from recordings, and the credential is a stand-in. This
checks the method names, arguments and answer shapes the backend relies on against the
SDK versions installed.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

for _module in ("azure.mgmt.appcontainers", "azure.monitor.query", "azure.identity"):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        importlib.import_module(_module)  # CI installs the azure extra: fail, never skip
    else:
        pytest.importorskip(_module)  # outside CI only: CI installs the extra

import requests  # noqa: E402  (an azure-core dependency)
import urllib3  # noqa: E402
from azure.core.credentials import AccessToken  # noqa: E402
from azure.core.pipeline.transport import RequestsTransport  # noqa: E402
from azure_testkit import at  # noqa: E402

from harness.backends.azure import exported  # noqa: E402
from harness.backends.azure.errors import AzureError  # noqa: E402
from harness.backends.azure.sdk import SdkAzureApi  # noqa: E402
from harness.backends.azure.settings import AzureSettings  # noqa: E402

SETTINGS = AzureSettings(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg-oom-lab",
                         environment="cae-oom", image="lab:1", deploy_timeout_s=5.0)
Handler = Callable[[requests.PreparedRequest], tuple[int, Any]]


class Recorded(requests.adapters.BaseAdapter):
    """A requests adapter that answers from a handler and keeps every request."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        status, body = self.handler(request)
        response = requests.Response()
        response.status_code = status
        response.headers["Content-Type"] = "application/json"
        content = json.dumps(body).encode() if body is not None else b""
        response.raw = urllib3.HTTPResponse(body=io.BytesIO(content), headers=dict(response.headers), status=status,
                                            preload_content=False)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


class Credential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("tok-123", int(time.time()) + 3600)


def real_api(handler: Handler) -> tuple[SdkAzureApi, Recorded]:
    adapter = Recorded(handler)
    session = requests.Session()
    session.mount("https://", adapter)
    return SdkAzureApi(SETTINGS, credential=Credential(), transport=RequestsTransport(session=session)), adapter


def test_container_app_calls(seed_dir: Path) -> None:
    env = exported.load_json(seed_dir / "environment.json")
    app = exported.load_json(seed_dir / "app.json")
    replicas = exported.load_json(seed_dir / "replicas.json")

    def handler(request: requests.PreparedRequest) -> tuple[int, Any]:
        path = requests.utils.urlparse(request.url).path
        if path.endswith("/managedEnvironments/cae-oom"):
            return 200, env
        if path.endswith("/replicas"):
            return 200, {"value": replicas}
        if path.endswith("/containerApps/app-1") and request.method in ("PUT", "GET"):
            return 200, app
        if path.endswith("/containerApps/app-1") and request.method == "DELETE":
            return 204, None
        return 404, {"error": {"code": "NotFound", "message": f"no recording for {request.method} {path}"}}

    api, adapter = real_api(handler)
    env_json = api.environment("rg-oom-lab", "cae-oom")
    assert env_json["properties"]["appLogsConfiguration"]["destination"] == "log-analytics"
    body = {"location": "koreacentral", "tags": {"oom-harness": "run"},
            "properties": {"template": {"scale": {"minReplicas": 1, "maxReplicas": 1}}}}
    created = api.create_app("rg-oom-lab", "app-1", body)
    assert created["properties"]["configuration"]["ingress"]["fqdn"].startswith("ca-oom-test.")
    put = next(r for r in adapter.requests if r.method == "PUT")
    assert "/resourceGroups/rg-oom-lab/providers/Microsoft.App/containerApps/app-1" in (put.url or "")
    sent = put.body.getvalue() if isinstance(put.body, io.BytesIO) else put.body  # the SDK streams an IO body
    assert json.loads(sent) == body  # type: ignore[arg-type]
    assert put.headers["Authorization"] == "Bearer tok-123"
    assert api.app_fqdn("rg-oom-lab", "app-1") == "ca-oom-test.gentlesea-3f2a1b7c.koreacentral.azurecontainerapps.io"
    listed = api.list_replicas("rg-oom-lab", "app-1")
    assert "/revisions/ca-oom-test--0000001/replicas" in (adapter.requests[-1].url or "")
    (replica,) = exported.replicas(listed, "replicas")
    assert (replica.restart_count, replica.created) == (0, at("2026-04-10T14:06:53+00:00"))
    api.delete_app("rg-oom-lab", "app-1")
    assert adapter.requests[-1].method == "DELETE"
    with pytest.raises(AzureError, match="^reading environment other: .*no recording for GET"):
        api.environment("rg-oom-lab", "other")


def test_log_query_rows_in_az_shape() -> None:
    def handler(request: requests.PreparedRequest) -> tuple[int, Any]:
        assert "/workspaces/ws-1/query" in (request.url or "")
        sent = json.loads(request.body)  # type: ignore[arg-type]
        assert sent["query"].startswith("ContainerAppConsoleLogs_CL")
        return 200, {"tables": [{"name": "PrimaryResult",
                                 "columns": [{"name": "TimeGenerated", "type": "datetime"},
                                             {"name": "Log_s", "type": "string"}],
                                 "rows": [["2026-04-10T14:08:14.502Z", "Worker (pid:7) was sent SIGKILL!"]]}]}

    api, _ = real_api(handler)
    rows = api.query_logs("ws-1", "ContainerAppConsoleLogs_CL\n| take 1", at("2026-04-10T14:00:00+00:00"),
                          at("2026-04-10T14:30:00+00:00"))
    (row,) = exported.log_rows(rows, "logs")
    assert row.t == pytest.approx(at("2026-04-10T14:08:14.502+00:00"))
    assert row.get("Log_s") == "Worker (pid:7) was sent SIGKILL!" and rows[0]["TableName"] == "PrimaryResult"


def test_missing_credentials_with_the_real_identity_library(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity import EnvironmentCredential

    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                 "AZURE_USERNAME", "AZURE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AzureError) as caught:
        SdkAzureApi(SETTINGS, credential=EnvironmentCredential())
    assert str(caught.value).startswith("no usable Azure credentials (EnvironmentCredential")
    assert "\n" not in str(caught.value)
