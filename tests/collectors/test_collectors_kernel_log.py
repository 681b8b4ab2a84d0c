"""Kernel log: the OOM killer's records, parsed from real /dev/kmsg and dmesg output."""

from __future__ import annotations

import pytest
from recorded_inputs import Recorded

from harness.collectors.kernel_log import (
    KernelKill,
    KmsgRecord,
    find_kills,
    kills_from,
    pair_with_counter,
    parse_dmesg_line,
    parse_kmsg_record,
    to_observations,
)
from harness.evidence import Kill

V2_ID = "3f4e9b2c1d0a8e7f6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
V2_OTHER = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"


def _oom_line(recorded: Recorded, name: str) -> str:
    return next(line for line in recorded.text(name, "kmsg.txt").splitlines() if ";oom-kill:" in line)


def test_parse_kmsg_record_reads_sequence_time_and_text(recorded: Recorded) -> None:
    record = parse_kmsg_record(_oom_line(recorded, "gunicorn_spike") + "\n")
    assert record is not None
    assert (record.seq, record.usec) == (2512, 708587403)
    assert record.text.startswith("oom-kill:constraint=CONSTRAINT_MEMCG,")
    assert record.text.endswith("task=gunicorn,pid=3811,uid=0")


def test_parse_kmsg_record_drops_continuation_lines() -> None:
    raw = "6,2512,708587403,-;oom-kill:task=gunicorn,pid=1\n SUBSYSTEM=memory\n DEVICE=+memory:x\n"
    assert parse_kmsg_record(raw) == KmsgRecord(2512, 708587403, "oom-kill:task=gunicorn,pid=1")


@pytest.mark.parametrize("raw", ["no separator at all", "6,2512;text", "6,x,708587403,-;text", ""])
def test_parse_kmsg_record_rejects_malformed_records(raw: str) -> None:
    assert parse_kmsg_record(raw) is None


def test_dmesg_lines_parse_to_the_same_records_as_kmsg(recorded: Recorded) -> None:
    for name in ("gunicorn_spike", "pid1_restart"):
        kmsg = [(r.usec, r.text) for r in recorded.kmsg(name)]
        dmesg = [(r.usec, r.text) for r in recorded.dmesg(name)]
        assert dmesg == kmsg
        assert len(kmsg) > 50


def test_parse_dmesg_line_pads_short_fractions_and_rejects_other_text() -> None:
    assert parse_dmesg_line("[  197.17] oom-kill:x") == KmsgRecord(0, 197_170_000, "oom-kill:x")
    assert parse_dmesg_line("[12345.000001] x") == KmsgRecord(0, 12_345_000_001, "x")
    assert parse_dmesg_line("oom-kill: no stamp") is None


def test_find_kills_on_a_recorded_worker_kill(recorded: Recorded) -> None:
    container_id = recorded.container_id("gunicorn_spike")
    kills = find_kills(recorded.kmsg("gunicorn_spike"), container_id)
    assert kills == [KernelKill(708587403, 3811, "gunicorn", f"/docker/{container_id}", 252740)]


def test_find_kills_matches_a_short_id_and_dmesg_input(recorded: Recorded) -> None:
    container_id = recorded.container_id("gunicorn_gradual")
    full = find_kills(recorded.kmsg("gunicorn_gradual"), container_id)
    assert find_kills(recorded.kmsg("gunicorn_gradual"), container_id[:12]) == full
    assert find_kills(recorded.dmesg("gunicorn_gradual"), container_id) == full
    assert [(k.pid, k.anon_rss_kb) for k in full] == [(4022, 252868)]


def test_find_kills_leaves_out_another_containers_kills(recorded: Recorded) -> None:
    records = recorded.kmsg("gunicorn_spike") + recorded.kmsg("pid1_restart")
    spike = find_kills(records, recorded.container_id("gunicorn_spike"))
    pid1 = find_kills(records, recorded.container_id("pid1_restart"))
    assert [k.pid for k in spike] == [3811]
    assert [(k.pid, k.name, k.anon_rss_kb) for k in pid1] == [
        (4142, "python3", 260992), (4246, "python3", 260992), (4364, "python3", 260992)]
    assert find_kills(records, recorded.container_id("supervisor")) == []


def test_find_kills_reads_cgroup_v2_systemd_scopes(recorded: Recorded) -> None:
    records = recorded.kmsg("cgroup_v2")
    kills = find_kills(records, V2_ID)
    assert kills == [KernelKill(197170909, 2841, "gunicorn", f"/system.slice/docker-{V2_ID}.scope", 518632)]
    assert [k.pid for k in find_kills(records, V2_OTHER)] == [3120]


def test_a_kill_without_its_killed_process_line_has_no_rss(recorded: Recorded) -> None:
    records = [r for r in recorded.kmsg("gunicorn_spike") if "Killed process" not in r.text]
    (kill,) = find_kills(records, recorded.container_id("gunicorn_spike"))
    assert (kill.pid, kill.name, kill.anon_rss_kb) == (3811, "gunicorn", None)


def test_kills_become_observations_and_ground_truth_on_the_wall_clock(recorded: Recorded) -> None:
    container_id = recorded.container_id("gunicorn_spike")
    records = recorded.kmsg("gunicorn_spike")
    (obs,) = to_observations(find_kills(records, container_id), boot_wall=1000.0)
    assert (obs.source, obs.kind, obs.kill) == ("kernel_log", "oom_kill", True)
    assert obs.t == pytest.approx(1708.587403)
    assert obs.detail["victim_pid"] == 3811 and obs.detail["anon_rss_kb"] == 252740
    (kill,) = kills_from(find_kills(records, container_id), boot_wall=1000.0)
    assert kill.t == kill.kernel_t == pytest.approx(1708.587403)
    assert (kill.victim_pid, kill.victim_name, kill.anon_rss_kb) == (3811, "gunicorn", 252740)
    assert kill.detected_at is None and kill.detection_latency_ms is None


# --- pairing the kernel's kills with the counter's rises --------------------------------


def test_kills_pair_with_counter_rises_by_time_not_position() -> None:
    kernel = [Kill(t=10.0, victim_pid=7, kernel_t=10.0), Kill(t=20.0, victim_pid=9, kernel_t=20.0)]
    # The first kill's rise was missed (read after the cgroup was recreated); the second
    # rise came 5 ms after its kill. By position it would pair with the first kill.
    paired = pair_with_counter(kernel, [20.005])
    assert [(k.victim_pid, k.detected_at) for k in paired] == [(7, None), (9, 20.005)]


def test_a_group_kill_pairs_one_rise_per_process() -> None:
    kernel = [Kill(t=5.0, victim_pid=30, kernel_t=5.0), Kill(t=5.001, victim_pid=1, kernel_t=5.001)]
    paired = pair_with_counter(kernel, [5.004, 5.004])
    assert [(k.victim_pid, k.detected_at) for k in paired] == [(30, 5.004), (1, 5.004)]


def test_rises_without_a_kernel_record_are_kills_of_their_own() -> None:
    paired = pair_with_counter([], [3.0])
    assert [(k.t, k.victim_pid, k.detected_at) for k in paired] == [(3.0, None, 3.0)]
    assert pair_with_counter([Kill(t=1.0, victim_pid=4)], [30.0])[0].detected_at is None  # too late to be it


def test_a_rise_without_a_line_right_after_a_group_kill_is_a_member_not_a_second_oom() -> None:
    """As in the guest (kernel 6.12, gradual-group-kill): three processes killed, the counter
    rose by 3 within 40 ms, the kernel log had the victim's line and one member's."""
    kernel = [Kill(t=38.96, victim_pid=2983, kernel_t=38.96),
              Kill(t=38.961, victim_pid=2956, kernel_t=38.961, group_member=True)]
    paired = pair_with_counter(kernel, [38.97, 38.97, 39.0])
    assert [(k.victim_pid, k.group_member) for k in paired] == [(2983, False), (2956, True), (None, True)]
    # Outside the group kill's window a rise with no line is still an OOM of its own.
    later = pair_with_counter(kernel, [38.97, 38.97, 45.0])
    assert [(k.victim_pid, k.group_member) for k in later][-1] == (None, False)


# --- recorded in the cgroup v2 guest (kernel 6.12, Docker 26.1.5, systemd driver) --------


def _guest(recorded: Recorded, kind: str) -> tuple[list[KmsgRecord], str]:
    return recorded.kmsg(f"guest_v2/{kind}"), recorded.text("guest_v2", kind, "container_id.txt").strip()


def test_a_v2_worker_kill_in_a_systemd_scope(recorded: Recorded) -> None:
    records, container = _guest(recorded, "worker_kill")
    (kill,) = find_kills(records, container)
    assert (kill.pid, kill.name, kill.anon_rss_kb) == (793, "python3", 130160)
    assert kill.memcg == f"/system.slice/docker-{container}.scope"


def test_a_group_kill_is_one_kill_per_process_of_the_group(recorded: Recorded) -> None:
    records, container = _guest(recorded, "group_kill")
    kills = find_kills(records, container)
    # The victim is logged first, then every member of the group (the victim again among them).
    assert [(k.pid, k.name) for k in kills] == [(889, "python3"), (866, "sh")]
    assert kills[1].anon_rss_kb == 0 and kills[0].anon_rss_kb == 130112


def test_a_machine_wide_oom_names_the_task_cgroup_only(recorded: Recorded) -> None:
    records, container = _guest(recorded, "global_oom")
    (kill,) = find_kills(records, container)
    assert (kill.pid, kill.name, kill.anon_rss_kb) == (976, "python3", 3741572)
    assert find_kills(records, "0" * 64) == []
