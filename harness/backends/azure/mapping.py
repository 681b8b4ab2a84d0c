"""From what Azure recorded to the backend-neutral evidence model.

* system log rows -> ``lifecycle_events`` (a termination with a non-zero or unknown exit
  code, exit code 137, or an OOMKilled reason is kill evidence) and ``engine_state`` (rows
  whose reason says OOMKilled);
* console rows -> ``console_logs``, through the same line parser the local backend uses,
  timed by ``TimeGenerated``;
* the RestartCount metric and the replicas' restartCount -> ``restart_count``: an increase
  over the run is kill evidence, the larger of the two counts, never both;
* WorkingSetBytes averages -> ``RunEvidence.one_minute``.

Sources the platform does not have are unavailable with a reason, never 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.backends.azure.exported import LogRow, MetricSeries, ReplicaState
from harness.collectors import console_logs
from harness.evidence import Observation, RunEvidence, SourceStatus
from harness.sources import absent_on_azure

LIFECYCLE = "lifecycle_events"
ENGINE_STATE = "engine_state"
RESTART = "restart_count"
CONSOLE = "console_logs"
MINUTE = "metric_1m_avg"


TERMINATIONS = {"containerterminated", "containercrashing", "backoff", "crashloopbackoff"}
_EXIT_CODE = re.compile(r"exit(?:ed)?(?: with)? code\W{0,3}(-?\d+)", re.IGNORECASE)
_REASON_IN_LOG = re.compile(r"reason\W{0,3}(\w+)", re.IGNORECASE)


@dataclass
class Collected:
    """What one run (or one export) gave, part by part; None means not available, and
    ``reasons`` says why."""

    system_rows: list[LogRow] | None = None
    console_rows: list[LogRow] | None = None
    working_set: MetricSeries | None = None
    restart_metric: MetricSeries | None = None
    replicas_before: list[ReplicaState] | None = None
    replicas: list[ReplicaState] | None = None
    reasons: dict[str, str] = field(default_factory=dict)

    def signature(self) -> tuple[int, ...]:
        """Counts that stop changing once ingestion has caught up."""
        return (
            -1 if self.system_rows is None else len(self.system_rows),
            -1 if self.console_rows is None else len(self.console_rows),
            -1 if self.working_set is None else len(self.working_set.values("average")),
            -1 if self.restart_metric is None else len(self.restart_metric.values("maximum", "total")),
            -1 if self.replicas is None else sum(r.restart_count for r in self.replicas),
        )

    def times(self) -> list[float]:
        """Every timestamp in it, to bound an imported run."""
        out = [r.t for rows in (self.system_rows, self.console_rows) if rows for r in rows]
        for series in (self.working_set, self.restart_metric):
            if series:
                out += [p.t for p in series.points if p.values]
        out += [r.created for r in self.replicas or [] if r.created is not None]
        return out


def exit_code(text: str) -> int | None:
    """The exit code a system log line names (``exit code '137'``), if any."""
    match = _EXIT_CODE.search(text)
    return int(match.group(1)) if match else None


def _says_oomkilled(reason: str, log: str) -> bool:
    if reason.lower() == "oomkilled":
        return True
    named = _REASON_IN_LOG.search(log)
    return bool(named and named.group(1).lower() == "oomkilled")


def _occurrences(row: LogRow) -> int:
    """How many events one row stands for (Kubernetes aggregates repeats into a count)."""
    raw = row.get("Count_d", "Count")
    try:
        return max(1, int(float(raw))) if raw else 1
    except ValueError:
        return 1


def system_observations(rows: list[LogRow]) -> list[Observation]:
    """Lifecycle and, where the platform said OOMKilled, engine-state observations."""
    found = []
    for row in rows:
        reason = row.get("Reason_s", "Reason")
        log = row.get("Log_s", "Log")
        code = exit_code(log)
        oom = _says_oomkilled(reason, log)
        terminated = reason.lower() in TERMINATIONS
        kill = oom or code == 137 or (terminated and code != 0)
        kind = "die" if terminated or code is not None else (reason or "event")
        detail: dict[str, Any] = {"reason": reason, "type": row.get("Type_s", "Type"), "log": log[:300]}
        if code is not None:
            detail["exit_code"] = code
        for _ in range(_occurrences(row)):
            found.append(Observation(LIFECYCLE, row.t, kind, kill, detail))
            if oom:
                found.append(Observation(ENGINE_STATE, row.t, "oom_killed", True, {"reason": reason, "log": log[:300]}))
    return found


def console_observations(rows: list[LogRow]) -> list[Observation]:
    """Every console row as the line parser reads it, timed by ``TimeGenerated``; rows it
    does not know are kept as kind ``line``, so that a scenario's own kill patterns can be
    applied to them after the run (the runner then drops those no pattern wanted)."""
    return [obs for row in rows for obs in console_logs.parse_text(row.get("Log_s", "Log"), row.t, keep_other=True)]


def one_minute_points(series: MetricSeries) -> list[tuple[float, float]]:
    """(minute start, average bytes) for every minute that had data."""
    return series.values("average")


def restart_observations(
    metric: MetricSeries | None, before: list[ReplicaState] | None, after: list[ReplicaState] | None, t_end: float,
) -> list[Observation]:
    """Restart evidence: each step up of the RestartCount metric over its first value, and
    the replicas' restartCount increase beyond what the metric already showed."""
    found: list[Observation] = []
    if metric is not None:
        values = metric.values("maximum", "total", "average")
        highest = values[0][1] if values else 0.0
        for t, value in values[1:]:
            if value > highest:
                for _ in range(int(round(value - highest))):
                    found.append(Observation(RESTART, t, "metric_increase", True,
                                             {"value": value, "previous": highest}))
                highest = value
    if after is not None:
        earlier = {r.name: r.restart_count for r in before or []}
        increase = sum(max(0, r.restart_count - earlier.get(r.name, 0)) for r in after)
        for _ in range(max(0, increase - len(found))):
            found.append(Observation(RESTART, t_end, "replica_restart", True, {"increase": increase}))
        for replica in after:
            found.append(Observation(RESTART, t_end, "replica_restart_count", False, {
                "replica": replica.name, "restart_count": replica.restart_count,
                "running_state": replica.running_state, "created": replica.created}))
    return found


def replica_state_observations(replicas: list[ReplicaState], t_end: float) -> list[Observation]:
    """Engine-state evidence in the replica API: a container whose state details say OOMKilled."""
    return [Observation(ENGINE_STATE, t_end, "oom_killed", True,
                        {"replica": r.name, "container": c.name, "details": c.details})
            for r in replicas for c in r.containers if c.details and "oomkilled" in c.details.lower()]


def statuses(collected: Collected) -> dict[str, SourceStatus]:
    """Which sources could be read, and why not."""
    def status(present: bool, *parts: str) -> SourceStatus:
        if present:
            return SourceStatus.ok()
        reasons = [collected.reasons[p] for p in parts if p in collected.reasons]
        return SourceStatus.unavailable("; ".join(dict.fromkeys(reasons)) or "not collected")

    out = {source: SourceStatus.unavailable(reason) for source, reason in absent_on_azure().items()}
    out[LIFECYCLE] = status(collected.system_rows is not None, "system_rows")
    out[ENGINE_STATE] = status(collected.system_rows is not None or collected.replicas is not None,
                               "system_rows", "replicas")
    out[RESTART] = status(collected.restart_metric is not None or collected.replicas is not None,
                          "restart_metric", "replicas")
    out[CONSOLE] = status(collected.console_rows is not None, "console_rows")
    out[MINUTE] = status(collected.working_set is not None, "working_set")
    return out


def unsettled(status: dict[str, SourceStatus], collected: Collected, waited_s: float) -> dict[str, SourceStatus]:
    """The statuses when Azure Monitor's ingestion had not settled: what comes from its logs
    and metrics was still arriving, so a kill missing from it is not a gap (the replica
    API's restart counts are read directly and stay as they are)."""
    reason = f"ingestion not settled after {waited_s:.0f} s: Azure Monitor's logs and metrics were still changing"
    from_logs = [LIFECYCLE, CONSOLE, MINUTE]
    if collected.replicas is None:
        from_logs += [ENGINE_STATE, RESTART]
    return {**status, **{source: SourceStatus.unavailable(reason) for source in from_logs
                         if status.get(source, SourceStatus.ok()).available}}


def build_evidence(
    collected: Collected, run: int, backend: str, started_at: float, ended_at: float,
    memory_limit_bytes: int | None, facts: dict[str, Any] | None = None,
) -> RunEvidence:
    """One run's evidence from what Azure recorded (client records are added by the caller)."""
    observations: list[Observation] = []
    if collected.system_rows is not None:
        observations += system_observations(collected.system_rows)
    if collected.console_rows is not None:
        observations += console_observations(collected.console_rows)
    observations += restart_observations(collected.restart_metric, collected.replicas_before,
                                         collected.replicas, ended_at)
    if collected.replicas is not None and not any(o.source == ENGINE_STATE for o in observations):
        observations += replica_state_observations(collected.replicas, ended_at)
    return RunEvidence(
        run=run, backend=backend, started_at=started_at, ended_at=ended_at,
        memory_limit_bytes=memory_limit_bytes,
        observations=sorted(observations, key=lambda o: o.t),
        status=statuses(collected),
        one_minute=one_minute_points(collected.working_set) if collected.working_set else [],
        facts=dict(facts or {}),
    )
