"""``harness run --backend azure``: settings, the one-line errors, and ``--dry-run``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.backends.azure.errors import AzureError
from harness.backends.azure.settings import AzureSettings
from harness.cli import main

GRADUAL = Path(__file__).resolve().parents[2] / "scenarios" / "gradual.yaml"
ENV = {"AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
       "OOM_HARNESS_AZURE_RESOURCE_GROUP": "rg-oom-lab",
       "OOM_HARNESS_AZURE_ENVIRONMENT": "cae-oom", "OOM_HARNESS_AZURE_IMAGE": "oom-app:v2",
       "OOM_HARNESS_AZURE_REGISTRY": "acroomlab.azurecr.io"}
SDK_MODULES = ("azure.identity", "azure.core.exceptions", "azure.mgmt.appcontainers", "azure.monitor.query")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*ENV, "OOM_HARNESS_AZURE_REGISTRY_USERNAME", "OOM_HARNESS_AZURE_REGISTRY_PASSWORD",
                 "OOM_HARNESS_AZURE_LOCATION", "OOM_HARNESS_AZURE_INGESTION_TIMEOUT"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Azure SDKs are not installed (whether or not they are here)."""
    for module in SDK_MODULES:
        monkeypatch.setitem(sys.modules, module, None)


def test_settings_come_from_the_environment_and_options_override() -> None:
    settings = AzureSettings.from_env({**ENV, "OOM_HARNESS_AZURE_INGESTION_TIMEOUT": "120",
                                       "OOM_HARNESS_AZURE_REGISTRY_PASSWORD": "secret"})
    assert (settings.resource_group, settings.image) == ("rg-oom-lab", "oom-app:v2")
    assert settings.ingestion_timeout_s == 120.0
    assert "secret" not in repr(settings)
    changed = settings.with_options(resource_group="rg-other", location=None)
    assert (changed.resource_group, changed.location, settings.resource_group) == ("rg-other", "", "rg-oom-lab")
    assert AzureSettings().missing(needs_image=True) == [
        "--subscription (AZURE_SUBSCRIPTION_ID)", "--resource-group (OOM_HARNESS_AZURE_RESOURCE_GROUP)",
        "--environment (OOM_HARNESS_AZURE_ENVIRONMENT)", "--image (OOM_HARNESS_AZURE_IMAGE)"]
    assert settings.missing(needs_image=True) == []
    with pytest.raises(AzureError, match="OOM_HARNESS_AZURE_INGESTION_TIMEOUT: 'soon' is not a number"):
        AzureSettings.from_env({"OOM_HARNESS_AZURE_INGESTION_TIMEOUT": "soon"})


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err.strip()


def test_missing_settings_exit_2_naming_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(GRADUAL), "--backend", "azure", "--resource-group", "rg"]) == 2
    assert one_error_line(capsys) == (
        "error: --backend azure needs --subscription (AZURE_SUBSCRIPTION_ID), "
        "--environment (OOM_HARNESS_AZURE_ENVIRONMENT), --image (OOM_HARNESS_AZURE_IMAGE)")


def test_without_the_sdks_it_exits_2_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, no_sdk: None, capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["run", str(GRADUAL), "--backend", "azure"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --backend azure needs the Azure SDKs (")
    assert line.endswith("is missing): pip install '.[azure]'")


def test_dry_run_prints_resources_and_queries_without_sdk_or_credentials(
    no_sdk: None, capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["run", str(GRADUAL), "--backend", "azure", "--dry-run", "--repeat", "2",
                 "--resource-group", "rg-oom-lab", "--environment", "cae-oom", "--image", "oom-app:v2",
                 "--registry", "acroomlab.azurecr.io", "--location", "koreacentral"])
    assert code == 0
    out = capsys.readouterr().out
    assert "nothing is created" in out
    assert "a real run also needs: --subscription (AZURE_SUBSCRIPTION_ID)" in out
    assert out.count("create Container App oomh-gradual-r") == 2
    assert '"image": "acroomlab.azurecr.io/oom-app:v2"' in out and '"memory": "0.5Gi"' in out
    assert '"minReplicas": 1' in out and '"maxReplicas": 1' in out and '"oom-harness": "run"' in out
    assert "ContainerAppSystemLogs_CL" in out and "ContainerAppConsoleLogs_CL" in out
    assert "az monitor metrics list --resource" in out and "--metric WorkingSetBytes --interval PT1M" in out
    assert "--metric RestartCount --interval PT1M" in out and "az containerapp replica list" in out
    assert "delete oomh-gradual-r1-" in out


def test_dry_run_never_prints_the_registry_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OOM_HARNESS_AZURE_REGISTRY_PASSWORD", "hunter2")
    assert main(["run", str(GRADUAL), "--backend", "azure", "--dry-run", "--image", "lab:1",
                 "--registry", "acroomlab.azurecr.io", "--registry-username", "acroomlab", "--keep"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "<OOM_HARNESS_AZURE_REGISTRY_PASSWORD>" in out
    assert '"passwordSecretRef": "registry-password"' in out and "keep oomh-gradual-r1-" in out


@pytest.mark.parametrize("flag", ["--dry-run", "--keep"])
def test_azure_only_flags_are_refused_for_docker(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(GRADUAL), flag]) == 2
    assert one_error_line(capsys) == f"error: {flag} applies to --backend azure only"
