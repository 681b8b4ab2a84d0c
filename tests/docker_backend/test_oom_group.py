"""The group OOM kill setting: the cgroup write, and the refusal where there is no cgroup v2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.backends.docker.backend import DockerBackend
from harness.backends.docker.oomgroup import enable_group_kill, require_cgroup_v2
from harness.cgroupfs import CgroupMemory
from harness.config import HarnessConfig
from harness.errors import EngineError, ScenarioError
from harness.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_group_kill_is_written_in_the_containers_v2_cgroup(tmp_path: Path) -> None:
    (tmp_path / "memory.oom.group").write_text("0\n")
    enable_group_kill(CgroupMemory(2, tmp_path))
    assert (tmp_path / "memory.oom.group").read_text() == "1"


def test_group_kill_needs_a_cgroup_and_cgroup_v2(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cgroup was not found"):
        enable_group_kill(None)
    with pytest.raises(ScenarioError, match="needs cgroup v2"):
        enable_group_kill(CgroupMemory(1, tmp_path))
    with pytest.raises(EngineError, match="did not appear within 0.05 s"):
        enable_group_kill(CgroupMemory(2, tmp_path / "restarting"), timeout_s=0.05)


def test_on_cgroup_v1_one_line_names_the_setting_and_points_to_the_guest() -> None:
    with pytest.raises(ScenarioError) as caught:
        require_cgroup_v2("gradual-group-kill", "1")
    assert str(caught.value) == (
        "gradual-group-kill: limits.oom_group needs cgroup v2 (memory.oom.group does not exist on cgroup v1, "
        "which this engine runs): run it in the cgroup v2 guest with --vm")
    require_cgroup_v2("gradual-group-kill", "2")


class _V1Engine:
    """Answers info and version like Docker 20.10 on cgroup v1; anything else is a bug."""

    def info(self) -> dict[str, Any]:
        return {"CgroupVersion": "1", "CgroupDriver": "cgroupfs", "KernelVersion": "6.18"}

    def version(self) -> dict[str, Any]:
        return {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41"}


def test_the_backend_refuses_before_it_makes_anything() -> None:
    backend = DockerBackend(_V1Engine(), HarnessConfig())  # type: ignore[arg-type]
    scenario = load_scenario(SCENARIOS / "gradual-group-kill.yaml")
    with pytest.raises(ScenarioError, match="limits.oom_group needs cgroup v2"):
        with backend.launch(scenario, 1):
            pass


def test_the_shipped_group_kill_pair_differs_from_its_base_in_group_kill_and_restart() -> None:
    from harness.compare import settings_diff

    for name in ("gradual", "spike"):
        base = load_scenario(SCENARIOS / f"{name}.yaml").model_dump(mode="json")
        group = load_scenario(SCENARIOS / f"{name}-group-kill.yaml").model_dump(mode="json")
        changed = {c.path for c in settings_diff(base, group) if not c.is_procedure}
        assert changed == {"limits.oom_group", "restart.policy"}
