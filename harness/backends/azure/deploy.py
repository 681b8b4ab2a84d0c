"""What a run creates on Azure: one Container App, named, tagged and described as an ARM body.

The body is the REST shape ``az containerapp create`` sends, with the scenario's image,
command, environment, CPU and memory, external ingress on the target port and exactly one
replica (min = max = 1), as in the reference lab. Restart policies have no Container Apps
equivalent (the platform always restarts a container), so they are recorded, not applied.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from harness.backends.azure.errors import AzureError
from harness.backends.azure.settings import AzureSettings
from harness.scenario import Scenario
from harness.scenario.commands import target_command
from harness.units import GIB

TAG = "oom-harness"
MAX_NAME = 32  # Container App names: lower-case letters, digits and '-', at most 32
REGISTRY_SECRET = "registry-password"
CONTAINER = "lab"


@dataclass(frozen=True)
class EnvironmentInfo:
    """What the run needs to know of the Container Apps environment."""

    id: str
    location: str | None
    workspace_id: str | None
    log_destination: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any], fallback_id: str) -> EnvironmentInfo:
        """Read ``az containerapp env show`` output."""
        props = data.get("properties") or {}
        logs = props.get("appLogsConfiguration") or {}
        workspace = (logs.get("logAnalyticsConfiguration") or {}).get("customerId")
        return cls(str(data.get("id") or fallback_id), data.get("location"), workspace or None,
                   logs.get("destination"))


def environment_id(settings: AzureSettings) -> str:
    return (f"/subscriptions/{settings.subscription_id}/resourceGroups/{settings.resource_group}"
            f"/providers/Microsoft.App/managedEnvironments/{settings.environment}")


def app_id(settings: AzureSettings, name: str) -> str:
    return (f"/subscriptions/{settings.subscription_id}/resourceGroups/{settings.resource_group}"
            f"/providers/Microsoft.App/containerApps/{name}")


def app_name(prefix: str, scenario: str, run: int, suffix: str | None = None) -> str:
    """``oomh-gradual-r1-3f9a2c``: valid as a Container App name and unique per run."""
    tail = f"-r{run}-{suffix or uuid.uuid4().hex[:6]}"
    base = re.sub(r"[^a-z0-9]+", "-", f"{prefix}-{scenario}".lower()).strip("-")
    base = base[: MAX_NAME - len(tail)].rstrip("-")
    if not base or not base[0].isalpha():
        base = ("h" + base)[: MAX_NAME - len(tail)].rstrip("-")
    return base + tail


def tags(settings: AzureSettings, scenario: Scenario, run: int, now: float | None = None) -> dict[str, str]:
    """Tags that find the harness's apps again (``az resource list --tag oom-harness=run``)."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return {TAG: "run", f"{TAG}-scenario": scenario.name, f"{TAG}-run": str(run),
            f"{TAG}-owner": settings.owner, f"{TAG}-created": created}


def image_reference(scenario: Scenario, settings: AzureSettings) -> str:
    """The image Azure pulls: the settings' lab image for ``labapp``, else the scenario's,
    under the registry when the reference names none."""
    image = settings.image if scenario.target.uses_lab_image else scenario.target.image
    if not image:
        raise AzureError("no lab image for Azure: give --image (OOM_HARNESS_AZURE_IMAGE), "
                         "a reference Azure can pull such as myacr.azurecr.io/oom-harness/labapp:latest")
    first = image.split("/", 1)[0]
    has_registry = "/" in image and ("." in first or ":" in first or first == "localhost")
    if settings.registry and not has_registry:
        return f"{settings.registry.rstrip('/')}/{image}"
    return image


def resources(scenario: Scenario) -> dict[str, Any]:
    """CPU and memory as Container Apps takes them (``0.25`` and ``"0.5Gi"``); without a CPU
    limit, half a core per GiB, the Consumption plan's ratio."""
    memory_gi = scenario.limits.memory / GIB
    cpu = scenario.limits.cpus if scenario.limits.cpus else round(memory_gi / 2, 2)
    return {"cpu": cpu, "memory": f"{memory_gi:g}Gi"}


def app_body(
    scenario: Scenario, settings: AzureSettings, environment: EnvironmentInfo, app_tags: dict[str, str],
    redact: bool = False,
) -> dict[str, Any]:
    """The ARM body of the run's Container App (``redact`` hides the registry password)."""
    target = scenario.target
    container: dict[str, Any] = {"name": CONTAINER, "image": image_reference(scenario, settings),
                                 "resources": resources(scenario)}
    command = target_command(target)
    if command:
        container["command"] = command
    if target.env:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(target.env.items())]
    configuration: dict[str, Any] = {
        "activeRevisionsMode": "Single",
        "ingress": {"external": True, "targetPort": target.port, "transport": "auto"},
    }
    if settings.registry and settings.registry_username:
        password = "<OOM_HARNESS_AZURE_REGISTRY_PASSWORD>" if redact else settings.registry_password
        configuration["secrets"] = [{"name": REGISTRY_SECRET, "value": password}]
        configuration["registries"] = [{"server": settings.registry, "username": settings.registry_username,
                                        "passwordSecretRef": REGISTRY_SECRET}]
    location = settings.location or environment.location
    if not location:
        raise AzureError(f"no location for the app: environment {settings.environment} names none; "
                         "give --location (OOM_HARNESS_AZURE_LOCATION)")
    return {
        "location": location,
        "tags": app_tags,
        "properties": {
            "environmentId": environment.id,
            "configuration": configuration,
            "template": {"containers": [container], "scale": {"minReplicas": 1, "maxReplicas": 1}},
        },
    }


def fqdn_of(app: dict[str, Any]) -> str | None:
    """The ingress host name in ``az containerapp show`` output."""
    ingress = ((app.get("properties") or {}).get("configuration") or {}).get("ingress") or {}
    return ingress.get("fqdn") or None
