"""Console logs: gunicorn's, the supervisor's and the lab app's lines, as docker logs gives them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from recorded_inputs import Recorded

from harness.collectors.console_logs import LiveConsole, parse_line, parse_logs, split_timestamp
from harness.evidence import Observation


def _line(recorded: Recorded, name: str, needle: str) -> str:
    return next(line for line in recorded.logs(name).splitlines() if needle in line)


def test_split_timestamp_keeps_nanosecond_fractions(recorded: Recorded) -> None:
    raw = _line(recorded, "gunicorn_spike", "was sent SIGKILL")
    t, text = split_timestamp(raw)
    expected = datetime(2026, 11, 21, 16, 34, 54, tzinfo=UTC).timestamp() + 0.441251167
    assert t == pytest.approx(expected, abs=1e-6)
    assert text == ("[2026-11-21 16:34:54 +0000] [1] [ERROR] Worker (pid:7) was sent SIGKILL! "
                    "Perhaps out of memory?")


def test_split_timestamp_without_fraction_or_without_stamp() -> None:
    whole = datetime(2026, 11, 21, 16, 34, 54, tzinfo=UTC).timestamp()
    assert split_timestamp("2026-11-21T16:34:54Z hello") == (whole, "hello")
    line = "[PID1] allocated_mb=16 rss_mb=34.7 pid=1"
    assert split_timestamp(line) == (None, line)
    assert split_timestamp("notadateZ text") == (None, "notadateZ text")
    assert split_timestamp("single") == (None, "single")


@pytest.mark.parametrize(
    ("name", "needle", "kind", "kill", "fields"),
    [
        ("gunicorn_spike", "was sent SIGKILL", "sigkill_line", True, {"pid": 7}),
        ("gunicorn_spike", "Booting worker with pid: 9", "worker_boot", False, {"pid": 9}),
        ("gunicorn_spike", "spike mb=400", "spike", False, {"mb": 400, "pid": 7}),
        ("gunicorn_spike", "[REQ] start id=2a9e1f655d20", "request_start", False,
         {"id": "2a9e1f655d20", "method": "POST", "path": "/spike", "pid": 7}),
        ("gunicorn_spike", "[REQ] end id=747a92a8dba2", "request_end", False,
         {"id": "747a92a8dba2", "status": 200, "pid": 9}),
        ("gunicorn_gradual", "allocated_mb=224", "progress", False,
         {"allocated_mb": 224.0, "rss_mb": 254.8, "pid": 7}),
        ("pid1_restart", "[PID1] allocated_mb=240 rss_mb=258.8", "progress", False,
         {"allocated_mb": 240.0, "rss_mb": 258.8, "pid": 1}),
        ("supervisor", "exited with code 137", "supervisor_exit", True, {"code": 137}),
        ("supervisor", "worker process started pid=9", "supervisor_start", False, {"pid": 9}),
    ],
)
def test_parse_line_on_recorded_lines(
    recorded: Recorded, name: str, needle: str, kind: str, kill: bool, fields: dict[str, object]
) -> None:
    t, text = split_timestamp(_line(recorded, name, needle))
    assert t is not None
    obs = parse_line(text, t)
    assert obs is not None
    assert (obs.source, obs.kind, obs.kill, obs.t) == ("console_logs", kind, kill, t)
    assert {k: obs.detail[k] for k in fields} == fields
    assert obs.detail["line"] == text.strip()


@pytest.mark.parametrize(
    ("text", "kind", "fields"),
    [
        ("[2026-11-21 16:34:54 +0000] [1] [ERROR] Worker (pid:7) exited with code 1", "worker_exit", {"code": 1}),
        ("[2026-11-21 16:34:54 +0000] [1] [WARNING] Worker (pid:7) was sent SIGTERM!", "worker_exit",
         {"signal": "SIGTERM"}),
        ("[SUPERVISOR] worker process exited with code 1", "supervisor_exit_other", {"code": 1}),
        ("[SUPERVISOR] worker process exited with code -9", "supervisor_exit_other", {"code": -9}),
        ("[OOM-TEST] allocated_mb=16 rss_mb=None pid=7", "progress", {"allocated_mb": 16.0, "rss_mb": None}),
        ("[OOM-TEST] MemoryError allocated_mb=480 pid=7", "memory_error", {}),
    ],
)
def test_parse_line_on_other_lines_the_lab_prints(text: str, kind: str, fields: dict[str, object]) -> None:
    obs = parse_line(text, 1.0)
    assert obs is not None and obs.kind == kind and not obs.kill
    assert {k: obs.detail[k] for k in fields} == fields


@pytest.mark.parametrize("text", [
    "[2026-11-21 16:34:54 +0000] [1] [INFO] Starting gunicorn 23.0.0",
    "[PID1] allocating 400 MB pid=1",
    "[SUPERVISOR] restart limit reached restarts=1 window_s=60, exiting",
    "",
])
def test_parse_line_ignores_lines_it_does_not_know(text: str) -> None:
    assert parse_line(text, 1.0) is None


def _kinds(observations: list[Observation]) -> list[str]:
    return [o.kind for o in observations if not o.kind.startswith("request_") and o.kind != "line"]


def test_parse_logs_on_a_recorded_spike(recorded: Recorded) -> None:
    found = parse_logs(recorded.logs("gunicorn_spike"))
    assert _kinds(found) == ["worker_boot", "spike", "sigkill_line", "worker_boot"]
    assert [o.detail["pid"] for o in found if o.kind == "worker_boot"] == [7, 9]
    assert sum(o.kill for o in found) == 1
    assert [o.t for o in found] == sorted(o.t for o in found)


def test_parse_logs_on_a_recorded_gradual_leak(recorded: Recorded) -> None:
    found = parse_logs(recorded.logs("gunicorn_gradual"))
    kill = next(o for o in found if o.kill)
    progress = [o for o in found if o.kind == "progress" and o.t <= kill.t]
    assert progress[-1].detail["allocated_mb"] == 224.0
    assert [o.detail["allocated_mb"] for o in progress] == [16.0 * i for i in range(1, 15)]


def test_a_killed_pid1_prints_nothing_about_it(recorded: Recorded) -> None:
    found = parse_logs(recorded.logs("pid1_restart"))
    assert found and not any(o.kill for o in found)
    assert {o.kind for o in found} == {"progress", "line"}


def test_the_supervisor_logs_each_kill(recorded: Recorded) -> None:
    found = parse_logs(recorded.logs("supervisor"))
    assert [o.detail["code"] for o in found if o.kill] == [137, 137]
    assert [o.detail["pid"] for o in found if o.kind == "supervisor_start"] == [8, 9]


def test_parse_logs_uses_the_fallback_time_for_unstamped_lines() -> None:
    found = parse_logs("[SUPERVISOR] worker process exited with code 137\nnoise\n", fallback_t=42.0)
    assert [(o.kind, o.t) for o in found] == [("supervisor_exit", 42.0), ("line", 42.0)]


def test_live_console_follows_progress_and_kill_lines(recorded: Recorded) -> None:
    seen: list[Observation] = []
    console = LiveConsole(seen.append)
    for line in recorded.logs("gunicorn_gradual").splitlines():
        console.feed(line)
    assert console.allocated_mb == 224.0
    assert console.kill_lines == 1
    assert [o.kind for o in seen].count("sigkill_line") == 1


def test_records_joined_on_one_line_are_each_parsed() -> None:
    # Seen in a real run before the lab app wrote its lines whole: two request threads
    # printed at once and docker logs gave one line holding both records.
    joined = ("2026-11-21T17:05:39.495810000Z [REQ] end id=a62465bdb74f status=200 ms=1.4 pid=16"
              "[REQ] start id=64e58344593d method=POST path=/spike pid=16")
    found = parse_logs(joined)
    assert [(o.kind, o.detail["id"]) for o in found] == [("request_end", "a62465bdb74f"),
                                                          ("request_start", "64e58344593d")]
    assert found[0].t == found[1].t
    live = LiveConsole()
    seen: list[Observation] = []
    live._on_observation = seen.append
    live.feed(joined)
    assert len(seen) == 2


def test_a_tag_inside_a_line_is_not_split_off_after_a_space() -> None:
    # Only records glued to the previous one are split; a tag quoted in prose after a space is not.
    found = parse_logs("2026-11-21T17:05:39Z note: see [REQ] start id=x method=GET path=/ pid=1")
    assert [o.kind for o in found] == ["request_start"]
