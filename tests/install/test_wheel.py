"""Installed the way CLIs are installed: the wheel in a fresh venv, used outside the clone.

The wheel must carry what building the lab image needs and the shipped scenarios, and
no top-level package but ``harness``; from a folder that is not the clone, the installed
``harness`` runs a shipped scenario by name on the real engine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=300)
    (built,) = dist.glob("oom_harness-*.whl")
    return built


def test_the_wheel_carries_the_image_sources_and_the_scenarios_and_one_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("harness/lab/Dockerfile", "harness/lab/requirements.txt", "harness/lab/app.py",
                   "harness/cgroupfs.py", "harness/reaper/ryuk.py", "harness/scenario/shipped/gradual.yaml",
                   "harness/monitoring/shipped_rules.yaml"):
        assert needed in names
    assert {n.split("/")[0] for n in names if not n.startswith("oom_harness-")} == {"harness"}
    # labapp/Dockerfile links to the root Dockerfile: the wheel carries the file itself.
    assert zipfile.ZipFile(wheel).read("harness/lab/Dockerfile") == (ROOT / "Dockerfile").read_bytes()


def test_an_installed_harness_runs_a_shipped_scenario_outside_the_clone(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    harness = str(venv / "bin" / "harness")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    version = subprocess.run([harness, "--version"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("harness ")
    # gradual with the monitoring stack: the shipped rules come from the installed package too.
    run = subprocess.run([harness, "run", "gradual-alerts", "--quiet", "--out", "out"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "expectations: PASSED" in run.stdout
    assert "alert:ContainerOomEvent" in run.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["matrix.txt", "report.md", "result.json"]
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import harness; print(harness.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert str(venv) in where.stdout  # the installed copy ran, not the clone's
