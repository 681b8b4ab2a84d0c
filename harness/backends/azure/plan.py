"""``--dry-run``: what a run on Azure would create and which queries it would send.

Printed without the SDKs, credentials or a network: names, tags and ARM bodies of the
apps (the registry password redacted), then the KQL, metrics requests (with the ``az``
commands that print the same JSON, for ``harness import``) and the replica listing.
Values known only once the run starts are shown as ``<placeholders>``.
"""

from __future__ import annotations

import json

from harness.backends.azure import deploy, queries
from harness.backends.azure.settings import AzureSettings
from harness.scenario import Scenario


def _or_placeholder(value: str, option: str) -> str:
    return value or f"<{option}>"


def render_plan(scenario: Scenario, settings: AzureSettings) -> str:
    """The dry-run text for every run of ``scenario``."""
    s = settings.with_options(
        subscription_id=_or_placeholder(settings.subscription_id, "subscription"),
        resource_group=_or_placeholder(settings.resource_group, "resource-group"),
        environment=_or_placeholder(settings.environment, "environment"),
        image=_or_placeholder(settings.image, "image"),
        location=_or_placeholder(settings.location, "environment's location"),
    )
    env = deploy.EnvironmentInfo(deploy.environment_id(s), s.location, None, None)
    lines = [f"dry run: scenario {scenario.name}, {scenario.repeat} run(s) on Azure Container Apps; nothing is created",
             ""]
    missing = settings.missing(scenario.target.uses_lab_image)
    if missing:
        lines += [f"a real run also needs: {', '.join(missing)}", ""]
    start, end = "<app created - 1 min>", "<run end + 1 min>"
    for run in range(1, scenario.repeat + 1):
        name = deploy.app_name(s.name_prefix, scenario.name, run)
        body = deploy.app_body(scenario, s, env, deploy.tags(s, scenario, run), redact=True)
        resource = deploy.app_id(s, name)
        lines += [
            f"run {run}: create Container App {name}",
            f"  PUT {resource}",
            *("  " + line for line in json.dumps(body, indent=2).splitlines()),
            "  then GET /health until it answers, drive the steps, and wait for ingestion",
            f"  query the Log Analytics workspace of environment {s.environment} "
            "(same as: az monitor log-analytics query --workspace <workspace id> --analytics-query QUERY):",
            *("    " + line for line in queries.system_logs_query(name, start, end).splitlines()),
            "",
            *("    " + line for line in queries.console_logs_query(name, start, end).splitlines()),
        ]
        for request in (queries.WORKING_SET, queries.RESTART_COUNT):
            lines += [f"  GET {resource}/providers/Microsoft.Insights/metrics?"
                      + "&".join(f"{k}={v}" for k, v in request.params(start, end).items()),
                      f"    same as: {request.az_command(resource, start, end)}"]
        lines += [f"  list replicas: az containerapp replica list -g {s.resource_group} -n {name}",
                  "  " + (f"keep {name} afterwards (--keep)" if s.keep else f"delete {name} afterwards"),
                  ""]
    return "\n".join(lines).rstrip()
