"""One job in the guest: run a scenario (or a check) and write its result for the host.

Run by the agent as ``python3 -m harness.vm.job jobs/NNNN.json``. The job file holds the
scenario as validated on the host (so errors name the host's file), the image tags, and
the time scale; the result is written to the file the job names, whole or not at all.
Exit codes follow the CLI: 0 passed, 1 an expectation failed, 2 a harness error, 3 a bug.
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker

from harness.config import HarnessConfig
from harness.vm.agent import write_json


def run_job(job: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A scenario run in this guest: (exit code, result JSON)."""
    from harness.backends.docker.backend import DockerBackend, require_images
    from harness.runner import run_scenario
    from harness.scenario import parse_scenario

    scenario = parse_scenario(job["scenario"], job["source"])
    config = replace(HarnessConfig(), image=job["image"], ingress_image=job["ingress_image"], label=job["label"],
                     monitoring_image=job.get("monitoring_image", HarnessConfig().monitoring_image),
                     engine=job.get("engine", ""))
    client = _client(config)
    require_images(client, config, scenario)
    time_scale = float(job.get("time_scale", 1.0))
    result = run_scenario(scenario, DockerBackend(client, config, log=print, time_scale=time_scale),
                          scenario_file=job["source"], show_progress=True, time_scale=time_scale,
                          host=job.get("host"))
    return (0 if result.passed else 1), result.to_json()


def _client(config: HarnessConfig) -> docker.DockerClient:
    """The guest's Docker engine; with ``engine: podman``, Podman's service, started by the
    first job that asks for it (the guest is root on Debian) and kept for the next."""
    if config.engine != "podman":
        return docker.from_env(timeout=600)
    from harness.backends.docker.engine import ensure_engine

    client = ensure_engine(replace(config, engine_start_timeout_s=120.0))
    client.api.timeout = 600
    return client


def run_check(job: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A named check of the guest's kernel (see :mod:`harness.vm.checks`)."""
    from harness.vm import checks

    outcome = checks.CHECKS[job["check"]](job)
    return (0 if outcome.get("passed") else 1), outcome


def main(argv: list[str]) -> int:
    from harness.errors import HarnessError

    job_file = Path(argv[1])
    job = json.loads(job_file.read_text())
    out = job_file.with_suffix(".out.json")
    try:
        code, data = run_job(job) if job["kind"] == "run" else run_check(job)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code, data = exc.exit_code, {"error": str(exc)}
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: reported to the host with its traceback
        traceback.print_exc()
        code, data = 3, {"error": f"internal error: {type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    write_json(out, data)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
