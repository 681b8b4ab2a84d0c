"""The kill patterns of each app server, fed with the lines the servers printed here
(tests/data/recorded, ``record_servers.py``): uWSGI, uvicorn, gunicorn 20.1 and 23, their
own timeouts, and a user's shell loop that only a scenario's own pattern knows."""

from __future__ import annotations

import pytest
from recorded_inputs import Recorded

from harness.collectors.console_logs import (
    KILL_PATTERNS,
    USER_KILL,
    apply_patterns,
    message,
    parse_line,
    parse_logs,
    split_timestamp,
    user_patterns,
)
from harness.evidence import Observation

OWN_PATTERN = r"server exited with status 137\b"


def _text(recorded: Recorded, name: str, needle: str) -> tuple[float, str]:
    raw = next(line for line in recorded.logs(name).splitlines() if needle in line)
    t, text = split_timestamp(raw)
    assert t is not None
    return t, text


@pytest.mark.parametrize(
    ("name", "needle", "kind", "kill", "fields"),
    [
        ("uwsgi_gradual", "DAMN !", "uwsgi_kill", True, {"pid": 7, "worker": 2, "signal": "9", "pattern": "uWSGI"}),
        ("uwsgi_gradual", "Respawned uWSGI worker", "worker_boot", False, {"pid": 9, "worker": 2}),
        ("uwsgi_gradual", "spawned uWSGI worker 1", "worker_boot", False, {"pid": 6, "worker": 1}),
        ("uvicorn_gradual", "Child process [10] died", "uvicorn_died", True, {"pid": 10, "pattern": "uvicorn"}),
        ("uvicorn_gradual", "Started server process [15]", "worker_boot", False, {"pid": 15}),
        ("gunicorn20_gradual", "was terminated due to signal 9", "sigkill_line", True,
         {"pid": 10, "signal": "9", "pattern": "gunicorn 20.x"}),
        ("gunicorn20_gradual", "Booting worker with pid: 13", "worker_boot", False, {"pid": 13}),
        ("gunicorn_timeout", "WORKER TIMEOUT", "worker_timeout", False, {"pid": 6}),
        ("gunicorn_timeout", "was sent SIGKILL", "sigkill_line", True, {"pid": 6, "pattern": "gunicorn 21+"}),
        ("gunicorn_timeout", "[OOM-TEST] block seconds=30", None, False, {}),
        ("uwsgi_harakiri", "HARAKIRI ON WORKER", "worker_timeout", False, {"pid": 7, "worker": 1}),
        ("uwsgi_harakiri", "DAMN !", "uwsgi_kill", True, {"pid": 7, "worker": 1}),
    ],
)
def test_each_servers_recorded_line(
    recorded: Recorded, name: str, needle: str, kind: str | None, kill: bool, fields: dict[str, object]
) -> None:
    t, text = _text(recorded, name, needle)
    obs = parse_line(text, t)
    if kind is None:
        assert obs is None
        return
    assert obs is not None
    assert (obs.source, obs.kind, obs.kill, obs.t) == ("console_logs", kind, kill, t)
    assert {k: obs.detail[k] for k in fields} == fields
    assert obs.detail["line"] == text.strip()


@pytest.mark.parametrize(("name", "needle"), [
    ("uvicorn_gradual", "Waiting for child process [10]"), ("uvicorn_gradual", "Application startup complete"),
    ("uwsgi_harakiri", "HARAKIRI !!! worker 1 status"), ("uwsgi_gradual", "*** Starting uWSGI 2.0.30"),
])
def test_the_servers_other_lines_are_no_kill(recorded: Recorded, name: str, needle: str) -> None:
    t, text = _text(recorded, name, needle)
    obs = parse_line(text, t)
    assert obs is None or not obs.kill


@pytest.mark.parametrize(("name", "oom_kills"), [
    ("uwsgi_gradual", 1), ("uvicorn_gradual", 1), ("gunicorn20_gradual", 1),
    ("gunicorn_timeout", 0), ("uwsgi_harakiri", 0),
])
def test_every_recording_has_one_kill_line_whatever_the_cgroup_counted(
    recorded: Recorded, name: str, oom_kills: int
) -> None:
    found = parse_logs(recorded.logs(name))
    assert sum(o.kill for o in found) == 1
    counter = recorded.text(name, "oom_control_after.txt")
    assert f"oom_kill {oom_kills}\n" in counter  # the ground truth the line must be judged by


def test_the_default_patterns_name_every_server() -> None:
    assert [p.name for p in KILL_PATTERNS] == ["gunicorn 21+", "gunicorn 20.x", "uWSGI", "uvicorn", "lab supervisor"]
    assert all(p.kill for p in KILL_PATTERNS)


def test_other_exits_and_signals_are_no_kill() -> None:
    for text in ("DAMN ! worker 1 (pid: 7) died :( trying respawn ...",
                 "DAMN ! worker 1 (pid: 7) died, killed by signal 6 :( trying respawn ...",
                 "[2026-11-23 15:42:24 +0000] [1] [WARNING] Worker with pid 10 was terminated due to signal 15"):
        obs = parse_line(text, 1.0)
        assert obs is not None and obs.kind == "worker_exit" and not obs.kill


def test_a_users_shell_loop_needs_its_own_pattern(recorded: Recorded) -> None:
    t, text = _text(recorded, "own_image_shell", "server exited with status 137")
    assert parse_line(text, t) is None
    obs = parse_line(text, t, user_patterns([OWN_PATTERN]))
    assert obs is not None
    assert (obs.kind, obs.kill, obs.detail["pattern"]) == (USER_KILL, True, OWN_PATTERN)
    assert "pid" not in obs.detail


def test_a_users_pattern_gives_the_pid_from_its_named_group() -> None:
    obs = parse_line("worker 41 gone (status 137)", 2.0, user_patterns([r"worker (?P<pid>\d+) gone \(status 137\)"]))
    assert obs is not None and obs.detail["pid"] == 41 and obs.kill


def test_a_users_pattern_is_tried_before_the_defaults() -> None:
    line = "[2026-11-23 15:42:32 +0000] [1] [ERROR] Worker (pid:6) was sent SIGKILL! Perhaps out of memory?"
    obs = parse_line(line, 1.0, user_patterns([r"Perhaps out of memory"]))
    assert obs is not None and obs.kind == USER_KILL


def test_patterns_applied_after_the_run_reach_the_lines_no_default_knew(recorded: Recorded) -> None:
    found = parse_logs(recorded.logs("own_image_shell"))
    assert not any(o.kill for o in found)
    others = [o for o in found if o.kind == "line"]
    assert any("server exited with status 137" in o.detail["line"] for o in others)
    again = apply_patterns(found, user_patterns([OWN_PATTERN]))
    assert len(again) == len(found)
    kills = [o for o in again if o.kill]
    assert [o.detail["line"] for o in kills] == ["app: server exited with status 137, restarting"]
    assert apply_patterns(found, ()) == found


def test_apply_patterns_leaves_other_sources_alone() -> None:
    other = Observation("kernel_log", 1.0, "oom_kill", True, {"line": "server exited with status 137"})
    assert apply_patterns([other], user_patterns([OWN_PATTERN])) == [other]


@pytest.mark.parametrize(("line", "said"), [
    ("[2026-11-23 15:42:32 +0000] [1] [ERROR] Worker (pid:6) was sent SIGKILL! Perhaps out of memory?",
     "Worker (pid:6) was sent SIGKILL! Perhaps out of memory?"),
    ("INFO:     Child process [10] died", "Child process [10] died"),
    ("[REQ] start id=x method=GET path=/ pid=7", "[REQ] start id=x method=GET path=/ pid=7"),
])
def test_message_drops_the_loggers_prefix_only(line: str, said: str) -> None:
    assert message(line) == said
