"""A scenario's own kill-line patterns reach the lines a backend parsed without them, and
only the console lines near a kill no line reported stay in the result."""

from __future__ import annotations

from typing import Any

import httpx

from harness.backends.fake import FakeBackend, FakeScript, kills_after, scripted_evidence
from harness.collectors.console_logs import parse_logs
from harness.result import ScenarioResult
from harness.runner import run_scenario
from harness.runner.run import settle_console
from harness.scenario import parse_scenario

LOGS = """\
2026-11-23T15:50:11.000000000Z INFO:     Started server process [7]
2026-11-23T15:50:12.000000000Z INFO:     172.17.0.1:56338 - "POST /keep HTTP/1.1" 200 OK
2026-11-23T15:50:12.629569809Z app: server exited with status 137, restarting
2026-11-23T15:50:12.629600185Z Killed
2026-11-23T15:50:20.000000000Z INFO:     172.17.0.1:56500 - "GET /health HTTP/1.1" 200 OK
2026-11-23T15:50:21.000000000Z INFO:     172.17.0.1:56501 - "GET /health HTTP/1.1" 200 OK
2026-11-23T15:50:22.000000000Z INFO:     172.17.0.1:56502 - "GET /health HTTP/1.1" 200 OK
2026-11-23T15:50:23.000000000Z INFO:     172.17.0.1:56503 - "GET /health HTTP/1.1" 200 OK
"""
KILL_AT = 1795449012.6  # 15:50:12.6 UTC, the OOM the shell loop reported
PATTERN = r"server exited with status 137\b"


def _run(patterns: list[str] | None) -> ScenarioResult:
    target: dict[str, Any] = {"image": "my-app:latest", "process": "image", "port": 8000}
    if patterns is not None:
        target["kill_log_patterns"] = patterns
    scenario = parse_scenario({"target": target, "limits": {"memory": "256Mi"}, "settle": 0,
                               "steps": ["wait_healthy", {"wait": {"until": {"kills": 1}, "timeout": "5s"}}],
                               "expect": {"sources": {"console_logs": "visible"}}}, "own.yaml")
    evidence = scripted_evidence([KILL_AT], parse_logs(LOGS), started_at=KILL_AT - 2, ended_at=KILL_AT + 12)
    backend = FakeBackend(FakeScript(live=kills_after(1), evidence=evidence))
    return run_scenario(scenario, backend, show_progress=False,
                        transport=httpx.MockTransport(lambda request: httpx.Response(200)))


def test_the_scenarios_pattern_makes_the_console_see_the_kill() -> None:
    result = _run([PATTERN])
    assert result.passed, result.failures
    assert result.source("console_logs").verdict == "visible"
    (line,) = [o for o in result.runs[0].evidence.of("console_logs") if o.kill]
    assert (line.kind, line.detail["pattern"]) == ("user_kill_line", PATTERN)
    # Every kill is explained, so none of the lines no pattern knows is kept.
    assert not [o for o in result.runs[0].evidence.of("console_logs") if o.kind == "line"]


def test_without_it_the_console_is_a_gap_and_the_lines_near_the_kill_are_kept() -> None:
    result = _run(None)
    assert result.source("console_logs").verdict == "gap"
    assert result.failures == ["run 1: console_logs was gap (0/1), expected visible"]
    kept = [o.detail["line"] for o in result.runs[0].evidence.of("console_logs") if o.kind == "line"]
    assert len(kept) == 4  # the five nearest lines, one of them uvicorn's known "Started server process"
    assert "app: server exited with status 137, restarting" in kept and "Killed" in kept
    assert not any("56503" in line for line in kept)  # far from the kill: dropped


def test_settle_console_without_patterns_only_trims() -> None:
    evidence = scripted_evidence([], parse_logs(LOGS))
    assert [o.kind for o in settle_console(evidence) if o.source == "console_logs"] == ["worker_boot"]
