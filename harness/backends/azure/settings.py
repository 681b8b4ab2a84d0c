"""Settings of the Azure backend: one frozen dataclass, defaults from the environment.

Like :class:`harness.config.HarnessConfig`, code receives the object and never reads
``os.environ`` itself; command-line options override the environment through
:meth:`AzureSettings.with_options`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from harness.backends.azure.errors import AzureError

# setting -> (environment variable, command-line option); the ones a run cannot do without.
REQUIRED: dict[str, tuple[str, str]] = {
    "subscription_id": ("AZURE_SUBSCRIPTION_ID", "--subscription"),
    "resource_group": ("OOM_HARNESS_AZURE_RESOURCE_GROUP", "--resource-group"),
    "environment": ("OOM_HARNESS_AZURE_ENVIRONMENT", "--environment"),
}
IMAGE = ("OOM_HARNESS_AZURE_IMAGE", "--image")


@dataclass(frozen=True)
class AzureSettings:
    """Where and how scenarios run on Azure Container Apps.

    Attributes:
        subscription_id: the subscription holding the resource group.
        resource_group: an existing resource group; the harness creates apps in it, never the group.
        environment: an existing Container Apps environment in that group.
        image: the lab image as Azure pulls it (``myacr.azurecr.io/oom-harness/labapp:latest``);
            used when a scenario names ``labapp``.
        registry: registry server; prefixed to ``image`` when the image names none.
        registry_username: user for a password-protected registry (the password comes only
            from ``OOM_HARNESS_AZURE_REGISTRY_PASSWORD``, never from the command line).
        location: region of the apps; empty means the environment's own.
        name_prefix: start of every Container App name the harness makes.
        keep: leave the apps in place after the run instead of deleting them.
        deploy_timeout_s: how long creating (or deleting) an app may take.
        ready_timeout_s: how long a new app may take to answer on its health path.
        ingestion_timeout_s: how long to wait for logs and metrics to arrive after a run.
        ingestion_poll_s: pause between two looks at the logs and metrics.
        owner: this process's id, put in a tag so concurrent harnesses can tell apps apart.
    """

    subscription_id: str = ""
    resource_group: str = ""
    environment: str = ""
    image: str = ""
    registry: str = ""
    registry_username: str = ""
    registry_password: str = field(default="", repr=False)
    location: str = ""
    name_prefix: str = "oomh"
    keep: bool = False
    deploy_timeout_s: float = 900.0
    ready_timeout_s: float = 300.0
    ingestion_timeout_s: float = 600.0
    ingestion_poll_s: float = 30.0
    owner: str = field(default_factory=lambda: str(os.getpid()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AzureSettings:
        """Defaults taken from ``AZURE_SUBSCRIPTION_ID`` and ``OOM_HARNESS_AZURE_*``."""
        env = os.environ if environ is None else environ

        def var(name: str) -> str:
            return env.get(f"OOM_HARNESS_AZURE_{name}", "").strip()

        timeout = var("INGESTION_TIMEOUT")
        try:
            ingestion_timeout = float(timeout) if timeout else cls.ingestion_timeout_s
        except ValueError as exc:
            raise AzureError(f"OOM_HARNESS_AZURE_INGESTION_TIMEOUT: {timeout!r} is not a number of seconds") from exc
        return cls(
            subscription_id=env.get("AZURE_SUBSCRIPTION_ID", "").strip(),
            resource_group=var("RESOURCE_GROUP"),
            environment=var("ENVIRONMENT"),
            image=var("IMAGE"),
            registry=var("REGISTRY"),
            registry_username=var("REGISTRY_USERNAME"),
            registry_password=env.get("OOM_HARNESS_AZURE_REGISTRY_PASSWORD", ""),
            location=var("LOCATION"),
            ingestion_timeout_s=ingestion_timeout,
        )

    def with_options(self, **options: Any) -> AzureSettings:
        """A copy with every option that was given (not None) replacing the setting."""
        known = {f.name for f in fields(self)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown Azure settings: {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in options.items() if v is not None})

    def missing(self, needs_image: bool) -> list[str]:
        """The required settings that are empty, each as ``--option (VARIABLE)``."""
        wanted = dict(REQUIRED)
        if needs_image:
            wanted["image"] = IMAGE
        return [f"{option} ({variable})" for name, (variable, option) in wanted.items()
                if not getattr(self, name)]
