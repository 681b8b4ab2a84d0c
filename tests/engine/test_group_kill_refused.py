"""On this machine's cgroup v1 engine a group-kill scenario exits 2 with one clear line,
and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from harness.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.engine
def test_group_kill_on_cgroup_v1_exits_2_pointing_to_the_guest(
    docker_client: docker.DockerClient, no_leaks: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    if docker_client.info().get("CgroupVersion") != "1":
        pytest.skip("this engine has cgroup v2: the scenario runs here")
    code = main(["run", str(SCENARIOS / "gradual-group-kill.yaml"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == ("error: gradual-group-kill: limits.oom_group needs cgroup v2 (memory.oom.group does not "
                       "exist on cgroup v1, which this engine runs): run it in the cgroup v2 guest with --vm")
    assert not (tmp_path / "out").exists()
