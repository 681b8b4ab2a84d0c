"""The guest's host-side logic that needs no qemu: accelerator choice, time scaling,
stale folders, the shared-folder log follower, and engine conditions in expectations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.errors import GuestError
from harness.scenario import load_scenario, parse_scenario
from harness.scenario.model import engine_matches
from harness.scenario.timescale import scale_timeouts
from harness.vm.image import configure_root, image_digest
from harness.vm.qemu import _follow, choose_accel, remove_stale_folders
from harness.vm.speed import time_scale

ROOT = Path(__file__).resolve().parents[2]
DOCKER_20 = {"name": "docker", "version": "20.10.24+dfsg1", "cgroup_version": "1"}
DOCKER_26 = {"name": "docker", "version": "26.1.5+dfsg1", "cgroup_version": "2"}


def test_a_pvm_kvm_module_means_software_emulation(tmp_path: Path) -> None:
    (tmp_path / "kvm_pvm").mkdir()
    accel = choose_accel("auto", sys_module=tmp_path, kvm="/dev/null")
    assert accel.name == "tcg" and "kvm_pvm" in accel.reason
    assert accel.args == ["-accel", "tcg,thread=multi", "-cpu", "max"]


def test_kvm_is_used_where_it_opens_and_is_not_pvm(tmp_path: Path) -> None:
    device = tmp_path / "kvm"
    device.write_text("")
    assert choose_accel("auto", sys_module=tmp_path, kvm=str(device)).name == "kvm"
    assert choose_accel("auto", sys_module=tmp_path, kvm=str(tmp_path / "absent")).name == "tcg"
    assert choose_accel("tcg").name == "tcg" and choose_accel("kvm").name == "kvm"
    with pytest.raises(GuestError, match="not auto, kvm or tcg"):
        choose_accel("fast")


def test_time_scale_is_the_guest_slowdown_at_least_one() -> None:
    assert time_scale(0.1087, 0.0082) == 13.3
    assert time_scale(0.005, 0.008) == 1.0
    assert time_scale(1.0, 0.0) == 1.0


def _gradual() -> dict:
    return {"target": {"image": "labapp"}, "limits": {"memory": "512Mi"}, "run_timeout": "100s",
            "steps": [{"wait_healthy": {"timeout": "30s"}},
                      {"poll": {"path": "/memory", "every": "2s", "timeout": "60s", "until": {"kills": 1}}},
                      {"sleep": "2s"},
                      {"burst": {"path": "/heavy", "count": 5, "concurrency": 2}}]}


def test_scaling_stretches_every_bound_and_no_pace() -> None:
    scenario = parse_scenario(_gradual(), "x.yaml")
    scaled = scale_timeouts(scenario, 4.0)
    healthy, poll, sleep, burst = scaled.steps
    assert healthy.timeout == 120.0 and poll.timeout == 240.0 and poll.every == 2.0
    assert sleep.duration == 2.0 and burst.timeout == 120.0 and burst.total_timeout == 1200.0
    assert scaled.run_timeout == 400.0
    assert scale_timeouts(scenario, 1.0) is scenario
    assert scenario.steps[1].timeout == 60.0  # the original is untouched


def test_engine_conditions() -> None:
    assert engine_matches("docker>=24", DOCKER_26) and not engine_matches("docker>=24", DOCKER_20)
    assert engine_matches("docker<24", DOCKER_20) and engine_matches("docker==26.1", DOCKER_26)
    assert engine_matches("cgroup=v2", DOCKER_26) and not engine_matches("cgroup=v2", DOCKER_20)
    assert not engine_matches("docker>=24", {"name": "azure-container-apps"})


def test_emulated_holds_for_a_guest_under_tcg_only() -> None:
    guest = json.loads((ROOT / "tests" / "data" / "results" / "gradual-v2.json").read_text())["engine"]
    assert guest["host"]["accel"] == "tcg" and engine_matches("emulated", guest)
    assert not engine_matches("emulated", {**guest, "host": {**guest["host"], "accel": "kvm"}})
    assert not engine_matches("emulated", DOCKER_20) and not engine_matches("emulated", DOCKER_26)
    gradual = load_scenario(ROOT / "scenarios" / "gradual.yaml").expect
    assert gradual.for_engine(guest).allowed_verdicts("client") == ("gap", "visible")
    assert gradual.for_engine(DOCKER_20).allowed_verdicts("client") == ("gap",)


def test_engine_expectations_replace_the_general_ones_key_by_key() -> None:
    data = _gradual() | {"expect": {"kills": {"min": 1},
                                    "sources": {"engine_state": "gap", "cgroup": "visible"},
                                    "on_engine": {"docker>=24": {"sources": {"engine_state": "visible"}}}}}
    expect = parse_scenario(data, "x.yaml").expect
    assert expect.for_engine(DOCKER_20).sources == {"engine_state": ["gap"], "cgroup": ["visible"]}
    newer = expect.for_engine(DOCKER_26)
    assert newer.sources == {"engine_state": ["visible"], "cgroup": ["visible"]}
    assert newer.kills == expect.kills


def test_a_bad_engine_condition_names_the_field() -> None:
    data = _gradual() | {"expect": {"on_engine": {"crio>=1": {"sources": {"cgroup": "visible"}}}}}
    with pytest.raises(Exception, match=r"x.yaml: expect.on_engine.*not an engine condition"):
        parse_scenario(data, "x.yaml")


def test_podman_conditions_meet_podman_only() -> None:
    podman = {"name": "podman", "version": "4.3.1", "cgroup_version": "1"}
    docker = {"name": "docker", "version": "20.10.24+dfsg1", "cgroup_version": "1"}
    assert engine_matches("podman<5", podman) and not engine_matches("podman<5", docker)
    assert not engine_matches("docker<24", podman) and engine_matches("docker<24", docker)
    scenario = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "pid1-oom.yaml")
    assert scenario.expect.for_engine(podman).allowed_verdicts("engine_state") == ("gap",)
    assert scenario.expect.for_engine(docker).allowed_verdicts("engine_state") == ("visible",)


def test_stale_guest_folders_go_and_live_ones_stay(tmp_path: Path) -> None:
    dead, live, fresh = tmp_path / "guest-dead", tmp_path / "guest-live", tmp_path / "guest-fresh"
    for folder in (dead, live, fresh):
        folder.mkdir()
    (dead / "owner.pid").write_text("999999999\n")
    (live / "owner.pid").write_text(f"{os.getpid()}\n")
    assert remove_stale_folders(tmp_path) == [dead]
    assert live.exists() and fresh.exists()  # no pid yet, but just made: being set up


def test_the_log_follower_passes_whole_lines_only(tmp_path: Path) -> None:
    log = tmp_path / "0001.log"
    log.write_bytes(b"[run 1/1] 0.8s phase=a\r[run 1/1] 1.8s phase=b\nhalf")
    lines: list[str] = []
    offset = _follow(log, 0, lines.append)
    assert lines == ["[run 1/1] 0.8s phase=a", "[run 1/1] 1.8s phase=b"]
    with log.open("ab") as f:
        f.write(b" line\n")
    _follow(log, offset, lines.append)
    assert lines[-1] == "half line"


def test_the_root_file_system_boots_into_the_agent(tmp_path: Path) -> None:
    (tmp_path / "etc/systemd/system/timers.target.wants").mkdir(parents=True)
    configure_root(tmp_path)
    assert "/mnt/share 9p" in (tmp_path / "etc/fstab").read_text()
    unit = tmp_path / "etc/systemd/system/multi-user.target.wants/oom-harness-agent.service"
    service = tmp_path / "etc/systemd/system/oom-harness-agent.service"
    assert unit.is_symlink() and "harness.vm.agent" in service.read_text()
    assert not (tmp_path / "etc/systemd/system/timers.target.wants").exists()
    assert len(image_digest()) == 16


def test_vm_and_a_cloud_backend_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    code = main(["run", str(Path(__file__).resolve().parents[2] / "scenarios" / "spike.yaml"), "--vm",
                 "--backend", "azure"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: --vm runs the scenario on the guest's Docker engine")


def test_the_agent_runs_job_files_only() -> None:
    from harness.vm.agent import JOB_NAME

    assert JOB_NAME.match("0001.json") and not JOB_NAME.match("0001.out.json")


def test_a_job_an_earlier_agent_started_is_never_run_again(tmp_path: Path) -> None:
    """systemd restarted the agent mid-job (it used to, with dockerd): the job is reported
    unfinished, not run a second time from the start."""
    import json

    from harness.vm.agent import serve_pending

    (tmp_path / "0001.json").write_text(json.dumps({"kind": "check", "check": "oom_watch"}))
    (tmp_path / "0001.log").write_text("faults: baseline gradual: exit 0\n")
    serve_pending(tmp_path)
    assert (tmp_path / "0001.done").read_text() == "3\n"
    assert "restarted while this job ran" in json.loads((tmp_path / "0001.out.json").read_text())["error"]
    assert (tmp_path / "0001.log").read_text() == "faults: baseline gradual: exit 0\n"  # kept for the host


def test_the_agent_is_not_stopped_with_dockerd() -> None:
    from harness.vm.image import UNIT

    assert "Requires=docker.service" not in UNIT and "Wants=docker.service" in UNIT


def test_a_job_runs_in_a_fork_of_the_agent_and_reports_its_failure(tmp_path: Path) -> None:
    """Jobs are forks of the agent (imports paid once): a job that breaks still ends with
    its exit code, its output in its log and its error for the host."""
    import json

    from harness.vm.agent import serve_pending

    (tmp_path / "0001.json").write_text(json.dumps({"kind": "check", "check": "no-such-check"}))
    serve_pending(tmp_path)
    assert (tmp_path / "0001.done").read_text() == "3\n"
    out = json.loads((tmp_path / "0001.out.json").read_text())
    assert out["error"] == "internal error: KeyError: 'no-such-check'"
    assert "Traceback" in (tmp_path / "0001.log").read_text()


def test_the_agent_powers_off_only_the_guest(tmp_path: Path) -> None:
    import json

    from harness.vm.agent import power_off, serve_pending

    (tmp_path / "0001.json").write_text(json.dumps({"kind": "poweroff"}))
    serve_pending(tmp_path)  # on this machine: refused, nothing else happens
    assert (tmp_path / "0001.done").read_text() == "2\n"
    assert "refusing to power this machine off" in json.loads((tmp_path / "0001.out.json").read_text())["error"]
    hostname = tmp_path / "hostname"
    hostname.write_text("somebody-else\n")
    power_off(tmp_path / "0002.done", hostname)
    assert (tmp_path / "0002.done").read_text() == "2\n"


def test_the_prepared_disk_is_named_by_the_images_it_holds(tmp_path: Path) -> None:
    from harness.vm.disks import find_loaded_disk, loaded_disk_path
    from harness.vm.image import GuestImage

    image = GuestImage("d", tmp_path / "disk.img", tmp_path / "vmlinuz", tmp_path / "initrd.img", "6.12", {})
    lab, proxy = tmp_path / "labapp-019f12c8dcdd.tar", tmp_path / "haproxy-d91cc9608980.tar"
    path = loaded_disk_path(image, [lab, proxy])
    assert path == loaded_disk_path(image, [proxy, lab]) and path.parent == tmp_path
    assert path.name.startswith("images-") and path.suffix == ".qcow2"
    assert loaded_disk_path(image, [tmp_path / "labapp-aaaaaaaaaaaa.tar", proxy]) != path  # a new lab image
    assert find_loaded_disk(image, [lab, proxy]) is None
    path.write_bytes(b"")
    assert find_loaded_disk(image, [lab, proxy]) == path


def test_a_preparation_whose_harness_died_leaves_no_disk(tmp_path: Path) -> None:
    import os
    import subprocess

    from harness.vm.disks import remove_stale_disks

    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = tmp_path / f"images-{'0' * 16}.qcow2.tmp-{gone.pid}"
    running = tmp_path / f"images-{'1' * 16}.qcow2.tmp-{os.getpid()}"
    for path in (stale, running):
        path.write_bytes(b"")
    assert remove_stale_disks(tmp_path) == [stale]
    assert running.exists() and not stale.exists()


def test_the_guest_boots_a_prepared_disk_as_a_snapshot(tmp_path: Path) -> None:
    from harness.config import HarnessConfig
    from harness.vm.image import GuestImage
    from harness.vm.qemu import Guest

    image = GuestImage("d", tmp_path / "disk.img", tmp_path / "vmlinuz", tmp_path / "initrd.img", "6.12", {})
    prepared = tmp_path / "images-0123456789abcdef.qcow2.tmp-1"  # named as while being prepared
    prepared.write_bytes(b"QFI\xfb\x00\x00\x00\x03")  # a qcow2 header's start
    assert Guest(HarnessConfig(), image, [])._drive() == f"file={image.disk},if=virtio,format=raw,snapshot=on"
    assert Guest(HarnessConfig(), image, [], disk=prepared)._drive() == \
        f"file={prepared},if=virtio,format=qcow2,snapshot=on"
    assert Guest(HarnessConfig(), image, [], disk=prepared, writable=True)._drive() == \
        f"file={prepared},if=virtio,format=qcow2"


def test_a_new_guest_image_removes_those_of_earlier_inputs(tmp_path: Path) -> None:
    from harness.vm.image import remove_old_images

    for name in ("1958533628be7124", "85a415f2b9d0b4e2", "images", "guest-abc"):
        (tmp_path / name).mkdir()
    assert remove_old_images(tmp_path, "85a415f2b9d0b4e2") == [tmp_path / "1958533628be7124"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["85a415f2b9d0b4e2", "guest-abc", "images"]


def test_a_kernel_panic_on_the_guests_console_is_recognised() -> None:
    # Recorded here: the guest's kernel panicked 2.5 s into a boot under emulation (TCG),
    # in the idle loop; the boot is tried once more.
    from harness.vm.qemu import first_panic_line, kernel_panicked

    console = (Path(__file__).parents[1] / "data" / "recorded" / "vm" / "panic_console.txt").read_text()
    assert kernel_panicked(console)
    assert first_panic_line(console) == "Kernel panic - not syncing: Fatal exception in interrupt"
    assert not kernel_panicked("[    8.3] systemd[1]: Started docker.service\n")
