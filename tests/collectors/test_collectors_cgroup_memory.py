"""The cgroup OOM counter and the memory series, on recorded v1 files and v2 files from the docs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from recorded_inputs import Recorded

from harness.cgroupfs import CgroupMemory
from harness.collectors.cgroup import CgroupOomCollector, OomCounter, parse_oom_kill
from harness.collectors.memory import MemorySampler, one_minute_averages
from harness.evidence import MemorySample

# --- OomCounter ------------------------------------------------------------------------


def test_the_first_reading_is_the_baseline() -> None:
    counter = OomCounter()
    assert counter.update(4, 1.0) == []
    assert counter.total == 0


def test_each_increment_is_one_kill_observation() -> None:
    counter = OomCounter()
    counter.update(0, 1.0)
    assert counter.update(0, 2.0) == []
    (one,) = counter.update(1, 3.0)
    assert (one.source, one.t, one.kind, one.kill, one.detail) == ("cgroup", 3.0, "oom_kill", True, {"counter": 1})
    assert len(counter.update(3, 4.0)) == 2
    assert counter.total == 3


def test_a_counter_that_goes_down_is_a_new_incarnation() -> None:
    counter = OomCounter()
    counter.update(0, 0.0)
    counter.update(2, 1.0)
    assert counter.update(0, 2.0) == []  # restarted, no kill yet in the new cgroup
    assert len(counter.update(1, 3.0)) == 1
    assert len(counter.update(0, 4.0)) == 0
    assert len(counter.update(2, 5.0)) == 2  # restarted again and already killed twice ...
    assert len(counter.update(1, 6.0)) == 1  # ... and restarted with one more
    assert counter.total == 6


# --- the counter files -----------------------------------------------------------------


@pytest.mark.parametrize(("version", "folder", "before", "after"), [
    (1, "gunicorn_spike", "cgroup_before", "cgroup_after"),
    (2, "cgroup_v2", "before", "after"),
])
def test_recorded_counter_files_read_zero_then_one(
    recorded: Recorded, version: int, folder: str, before: str, after: str
) -> None:
    assert CgroupMemory(version, recorded.root / folder / before).oom_kills().value == 0
    assert CgroupMemory(version, recorded.root / folder / after).oom_kills().value == 1


def test_collector_counts_the_kill_between_two_recorded_readings(recorded: Recorded, tmp_path: Path) -> None:
    path = recorded.copy_dir("gunicorn_spike/cgroup_before", tmp_path / "cg")
    collector = CgroupOomCollector(CgroupMemory(1, path), interval=0.01)
    assert collector.status().available
    collector.start()
    (path / "memory.oom_control").write_text(recorded.text("gunicorn_spike", "cgroup_after", "memory.oom_control"))
    collector.stop()  # always reads once more, so the kill is counted however fast this ran
    assert collector.kills == 1
    assert [o.detail["counter"] for o in collector.snapshot()] == [1]


def test_collector_skips_readings_while_the_cgroup_is_gone(recorded: Recorded, tmp_path: Path) -> None:
    path = recorded.copy_dir("cgroup_v2/before", tmp_path / "cg")
    collector = CgroupOomCollector(CgroupMemory(2, path))
    events = path / "memory.events"
    events.unlink()
    collector.stop()
    assert collector.kills == 0
    events.write_text(recorded.text("cgroup_v2", "after", "memory.events"))
    collector.stop()
    assert collector.kills == 1


def test_collector_without_a_cgroup_or_counter_is_unavailable(tmp_path: Path) -> None:
    missing = CgroupOomCollector(None)
    assert not missing.status().available and "not found" in str(missing.status().reason)
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")  # kernel < 4.13
    old_kernel = CgroupOomCollector(CgroupMemory(1, tmp_path))
    assert old_kernel.status().reason == "oom_kill not in memory.oom_control (kernel < 4.13)"
    old_kernel.start()
    old_kernel.stop()
    assert old_kernel.snapshot() == []


# --- MemorySampler ---------------------------------------------------------------------


@pytest.mark.parametrize(("version", "folder", "usage", "working_set", "peak"), [
    (1, "gunicorn_gradual/cgroup_before", 33013760, 33013760 - 344064, 33013760),
    (1, "gunicorn_gradual/cgroup_after", 31940608, 31940608, 268435456),
    (2, "cgroup_v2/after", 33390592, 33390592 - 1081344, 536870912),
])
def test_sampler_reads_usage_working_set_and_high_water(
    recorded: Recorded, version: int, folder: str, usage: int, working_set: int, peak: int
) -> None:
    sampler = MemorySampler(CgroupMemory(version, recorded.root / folder), interval=0.01)
    sampler.start()
    sampler.stop()
    sample = sampler.latest()
    assert sample is not None
    assert (sample.usage_bytes, sample.working_set_bytes) == (usage, working_set)
    assert sampler.highwater == peak


def test_sampler_without_a_cgroup_is_unavailable(tmp_path: Path) -> None:
    assert not MemorySampler(None).status().available
    gone = MemorySampler(CgroupMemory(2, tmp_path / "gone"), interval=0.01)
    gone.start()
    gone.stop()
    assert gone.snapshot() == [] and gone.highwater is None


def test_the_sampler_marks_once_that_the_cgroup_went_away(recorded: Recorded, tmp_path: Path) -> None:
    """A PID-1 kill removes the cgroup until the restart: one reading with no usage says so."""
    path = recorded.copy_dir("cgroup_v2/after", tmp_path / "cg")
    sampler = MemorySampler(CgroupMemory(2, path), interval=0.01)
    sampler._tick()
    usage = path / "memory.current"
    kept = usage.read_text()
    usage.unlink()
    assert sampler._usage is not None
    sampler._usage.close()  # a removed cgroup's open file answers ENODEV; a plain file does not
    sampler._tick()
    sampler._tick()
    usage.write_text(kept)
    sampler._tick()
    assert [s.usage_bytes for s in sampler.snapshot()] == [33390592, None, 33390592]


# --- one_minute_averages ---------------------------------------------------------------


def _samples(*points: tuple[float, int | None]) -> list[MemorySample]:
    return [MemorySample(t, ws, ws) for t, ws in points]


def test_no_samples_no_points() -> None:
    assert one_minute_averages([]) == []
    assert one_minute_averages(_samples((70.0, None))) == []


def test_without_idle_levels_only_the_sampled_part_is_averaged() -> None:
    # Step series: 100 over [70, 80), 200 over [80, 90); the last sample has no width.
    assert one_minute_averages(_samples((70.0, 100), (80.0, 200), (90.0, 900))) == [(60.0, 150.0)]


def test_a_single_sample_is_its_own_average() -> None:
    assert one_minute_averages(_samples((30.0, 5))) == [(0.0, 5.0)]


def test_idle_levels_pad_the_minute_and_one_idle_minute_follows() -> None:
    # Minute [60, 120): idle 10 over [60, 90), 100 over [90, 100), idle 20 over [100, 120).
    result = one_minute_averages(_samples((90.0, 100), (100.0, 100)), idle_before=10.0, idle_after=20.0)
    assert result == [(60.0, pytest.approx((10 * 30 + 100 * 10 + 20 * 20) / 60)), (120.0, 20.0)]


def test_a_run_across_a_minute_boundary_splits_at_the_boundary() -> None:
    samples = _samples((110.0, 100), (130.0, 300), (140.0, 300))
    result = one_minute_averages(samples, idle_before=10.0, idle_after=20.0)
    assert [t for t, _ in result] == [60.0, 120.0, 180.0]
    # [60, 110) idle 10, [110, 120) at 100.
    assert result[0][1] == pytest.approx((10 * 50 + 100 * 10) / 60)
    # [120, 130) still 100, [130, 140) 300, [140, 180) idle 20.
    assert result[1][1] == pytest.approx((100 * 10 + 300 * 10 + 20 * 40) / 60)
    assert result[2][1] == 20.0


def test_a_short_peak_is_averaged_away() -> None:
    mib = 2**20
    samples = _samples((60.0, 30 * mib), (75.0, 500 * mib), (77.0, 30 * mib), (80.0, 30 * mib))
    (minute, average), _ = one_minute_averages(samples, idle_before=30 * mib, idle_after=30 * mib)
    assert minute == 60.0
    assert average / mib == pytest.approx(30 + 470 * 2 / 60)


def test_the_v2_watch_sleeps_until_the_kernel_says_memory_events_changed(recorded: Recorded, tmp_path: Path) -> None:
    """A regular file (like a cgroup file) always polls readable; the v2 watch asks for
    POLLPRI only, which a plain file never raises, so it must not wake at all by itself:
    the busy loop that burned most of a core in the v2 guest."""
    path = recorded.copy_dir("cgroup_v2/before", tmp_path / "cg")
    collector = CgroupOomCollector(CgroupMemory(2, path), safety_interval=0.2)
    collector.start()
    assert collector.detection == "poll(memory.events, POLLPRI)"
    time.sleep(0.5)
    collector.stop()
    assert collector.wakes == 0
    assert collector.cpu_s < 0.05


def test_the_fast_counter_read_agrees_with_the_file_reader(recorded: Recorded) -> None:
    for folder, count in (("before", 0), ("after", 1)):
        content = (recorded.root / "cgroup_v2" / folder / "memory.events").read_bytes()
        from_file = CgroupMemory(2, recorded.root / "cgroup_v2" / folder).oom_kills().value
        assert parse_oom_kill(content) == count == from_file
    assert parse_oom_kill(b"low 0\nhigh 0\nmax 0\noom 0\n") is None  # kernel < 4.13


def test_the_sampler_is_paced_by_how_fast_memory_moves() -> None:
    from harness.collectors.memory import SLOWEST_S

    sampler = MemorySampler(None, interval=0.02, limit_bytes=512 * 2**20)
    mib = 2**20

    def wait(before_mb: float, after_mb: float, seconds: float) -> float:
        return sampler._next_wait(MemorySample(0.0, int(before_mb * mib), None),
                                  MemorySample(seconds, int(after_mb * mib), None), 0.0)

    assert wait(100, 100, 0.5) == SLOWEST_S  # standing still
    assert wait(100, 150, 0.5) == pytest.approx(0.256)  # 100 MiB/s: 5 % of the limit in 256 ms
    assert wait(100, 400, 0.1) == 0.02  # a spike: as fast as allowed
    assert wait(470, 470, 0.5) == 0.02  # near the limit: the peak and the kill are coming
    assert wait(400, 30, 0.5) < 0.05  # a drop (a kill)
    sampler.nudge()  # the kernel signalled the limit or an OOM
    assert wait(100, 100, 0.5) == 0.02
    assert sampler._next_wait(None, MemorySample(0.0, 0, None), 0.0) == 0.02
