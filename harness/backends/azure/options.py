"""The ``harness run`` options of the Azure backend, and turning them into a backend.

Kept here so the CLI stays a thin layer: it adds these options to ``run`` and asks
:func:`backend_from_args` for a backend when ``--backend azure`` is given.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from harness.backends.azure.backend import AzureBackend
from harness.backends.azure.errors import AzureError
from harness.backends.azure.settings import AzureSettings
from harness.errors import HarnessError, ScenarioError
from harness.scenario import Scenario


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Add the Azure options (each defaulting to its environment variable) to ``run``."""
    group = parser.add_argument_group("Azure (with --backend azure; defaults from the environment)")
    group.add_argument("--subscription", metavar="ID", help="subscription id ($AZURE_SUBSCRIPTION_ID)")
    group.add_argument("--resource-group", metavar="NAME",
                       help="existing resource group ($OOM_HARNESS_AZURE_RESOURCE_GROUP)")
    group.add_argument("--environment", metavar="NAME",
                       help="existing Container Apps environment ($OOM_HARNESS_AZURE_ENVIRONMENT)")
    group.add_argument("--image", metavar="REF",
                       help="the lab image as Azure pulls it, e.g. myacr.azurecr.io/oom-harness/labapp:latest "
                            "($OOM_HARNESS_AZURE_IMAGE)")
    group.add_argument("--registry", metavar="SERVER", help="registry server, e.g. myacr.azurecr.io "
                       "($OOM_HARNESS_AZURE_REGISTRY; password only from $OOM_HARNESS_AZURE_REGISTRY_PASSWORD)")
    group.add_argument("--registry-username", metavar="USER",
                       help="registry user ($OOM_HARNESS_AZURE_REGISTRY_USERNAME)")
    group.add_argument("--location", metavar="REGION", help="region ($OOM_HARNESS_AZURE_LOCATION; "
                       "default the environment's)")
    group.add_argument("--ingestion-timeout", type=float, metavar="SECONDS",
                       help="how long to wait for logs and metrics after a run "
                            "($OOM_HARNESS_AZURE_INGESTION_TIMEOUT, default 600)")


def settings_from_args(args: argparse.Namespace) -> AzureSettings:
    """Environment defaults, overridden by the options given."""
    return AzureSettings.from_env().with_options(
        subscription_id=getattr(args, "subscription", None),
        resource_group=getattr(args, "resource_group", None),
        environment=getattr(args, "environment", None),
        image=getattr(args, "image", None),
        registry=getattr(args, "registry", None),
        registry_username=getattr(args, "registry_username", None),
        location=getattr(args, "location", None),
        ingestion_timeout_s=getattr(args, "ingestion_timeout", None),
        keep=bool(getattr(args, "keep", False)),
    )


def backend_from_args(
    args: argparse.Namespace, scenario: Scenario, log: Callable[[str], None],
) -> AzureBackend | None:
    """The backend for ``harness run`` with an Azure-only option, or None after ``--dry-run``
    printed its plan. Settings are checked before the SDKs, the SDKs before credentials."""
    if args.backend != "azure":
        given = [flag for flag, on in (("--dry-run", args.dry_run), ("--keep", args.keep)) if on]
        verb = "applies" if len(given) == 1 else "apply"
        raise HarnessError(f"{' and '.join(given)} {verb} to --backend azure only")
    if scenario.ingress is not None:
        raise ScenarioError(
            f"scenario {scenario.name}: ingress puts a local HAProxy in front of the app and runs on "
            "--backend docker only; on Azure the platform's own ingress is in front and its retries "
            "are not configurable")
    settings = settings_from_args(args)
    if args.dry_run:
        from harness.backends.azure.plan import render_plan

        print(render_plan(scenario, settings))
        return None
    missing = settings.missing(scenario.target.uses_lab_image)
    if missing:
        raise AzureError(f"--backend azure needs {', '.join(missing)}")
    from harness.backends.azure.sdk import SdkAzureApi

    return AzureBackend(SdkAzureApi(settings), settings, log=log)
