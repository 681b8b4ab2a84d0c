"""Evidence for the matrix tests: built in code, or assembled from a recorded run the way the
Docker backend assembles it (engine events, console logs, kernel kills at the oom events)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.backends.fake import scripted_evidence
from harness.collectors.console_logs import parse_logs
from harness.collectors.engine_events import event_to_observation
from harness.collectors.kernel_log import find_kills, parse_kmsg_record
from harness.evidence import Kill, Observation, RunEvidence

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded"


def recorded_evidence(name: str) -> RunEvidence:
    """A recorded run's evidence; its kills happen at the engine's ``oom`` events."""
    folder = RECORDED / name
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    observations = [o for e in events if (o := event_to_observation(e)) is not None]
    observations += parse_logs((folder / "logs.txt").read_text())
    records = [r for line in (folder / "kmsg.txt").read_text().splitlines() if (r := parse_kmsg_record(line))]
    container_id = json.loads((folder / "inspect.json").read_text())["Id"]
    kill_times = [o.t for o in observations if o.kind == "oom"]
    kills = [Kill(t=t, victim_pid=k.pid, victim_name=k.name, anon_rss_kb=k.anon_rss_kb)
             for t, k in zip(kill_times, find_kills(records, container_id), strict=True)]
    evidence = scripted_evidence(kill_times, observations, unavailable={
        "metric_1m_avg": "not recorded", "metric_highres": "not recorded"})
    evidence.kills = kills
    evidence.started_at = min(o.t for o in observations)
    evidence.ended_at = max(o.t for o in observations)
    return evidence


def obs(source: str, t: float, kind: str = "x", kill: bool = True, **detail: object) -> Observation:
    """A short way to write an observation in a test."""
    return Observation(source, t, kind, kill, detail)
