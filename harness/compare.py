"""Comparing two results: the failure, the fix, and evidence that the fix is what changed
the outcome (the reference labs' falsification step).

Where a comparison's verdict is made: :func:`falsification`. The variables that differ
between the two scenarios are found by walking their settings, so the report names them
instead of the reader having to diff two YAML files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from tabulate import tabulate

from harness.attempts import KillingRequests, explain_pair, killing_requests, span
from harness.matrix import MatrixRow
from harness.report.table import PLATFORM_HEADERS
from harness.result import ScenarioResult
from harness.scenario import format_size
from harness.sources import analogue

# Not variables of the experiment: what it is called, how often it ran, what it expected.
IGNORED_SETTINGS = {"name", "description", "repeat", "expect"}
# The procedure: reported, but not named as the controlling variable.
PROCEDURE_SETTINGS = {"steps", "settle", "run_timeout", "sample_interval"}
SIZE_SETTINGS = {"limits.memory", "limits.memory_swap", "limits.address_space"}
# Where a result ran: a finding is true only on the engines and kernels it was seen on.
ENGINE_FACTS = ("name", "version", "cgroup_version", "cgroup_driver", "kernel", "rootless")


@dataclass(frozen=True)
class Change:
    """One setting that differs between A and B (a dotted path and both values)."""

    path: str
    a: Any
    b: Any

    @property
    def is_procedure(self) -> bool:
        return self.path.split(".")[0] in PROCEDURE_SETTINGS

    def describe(self) -> str:
        if self.path in SIZE_SETTINGS:
            return f"{self.path}: {_size(self.a)} -> {_size(self.b)}"
        if self.path == "steps":
            return "steps differ"
        return f"{self.path}: {_show(self.a)} -> {_show(self.b)}"


@dataclass(frozen=True)
class Comparison:
    a: ScenarioResult
    b: ScenarioResult
    changes: list[Change]
    verdict: str
    per_request: tuple[KillingRequests, KillingRequests] | None = None
    per_request_verdict: str | None = None


class _Read(BaseModel):
    """Read from an object's attributes (and properties), written as JSON."""

    model_config = ConfigDict(from_attributes=True, frozen=True)


class SideData(_Read):
    """One result in ``compare.json``: what it is, whether it passed, its kills and matrix."""

    scenario: str
    passed: bool
    kills: int = Field(validation_alias="oom_kills")
    matrix: list[MatrixRow]


class RequestSideData(_Read):
    """One result's killing requests in ``compare.json`` (runs with an ingress)."""

    scenario: str
    ingress_retries: int | None = Field(validation_alias="retries")
    kills_per_request: list[int]
    attempts_per_request: list[int]
    sent_by_ingress_per_request: list[int | None] = Field(validation_alias="sent_by_proxy_per_request")


class PerRequestData(_Read):
    a: RequestSideData
    b: RequestSideData
    verdict: str | None


class ComparisonData(_Read):
    """``compare.json``: both sides, the settings and engine facts that changed, the
    verdict and, where an ingress ran, the per-request account."""

    a: SideData
    b: SideData
    changed: list[Change]
    verdict: str
    per_request: PerRequestData | None = None  # written only where an ingress ran


def comparison_data(comparison: Comparison) -> dict[str, Any]:
    """``comparison`` as ``compare.json`` holds it (JSON data)."""
    per_request = None
    if comparison.per_request is not None:
        side_a, side_b = comparison.per_request
        per_request = PerRequestData(a=RequestSideData.model_validate(side_a),
                                     b=RequestSideData.model_validate(side_b), verdict=comparison.per_request_verdict)
    found = ComparisonData(a=SideData.model_validate(comparison.a), b=SideData.model_validate(comparison.b),
                           changed=comparison.changes, verdict=comparison.verdict, per_request=per_request)
    data: dict[str, Any] = found.model_dump(mode="json", exclude={"per_request"} if per_request is None else None)
    return data


def compare(a: ScenarioResult, b: ScenarioResult) -> Comparison:
    """Compare two results: what changed between their scenarios and what that did."""
    changes = settings_diff(a.settings, b.settings) + engine_diff(a.engine, b.engine)
    per_request = None
    sentence = None
    if a.settings.get("ingress") or b.settings.get("ingress"):
        per_request = (killing_requests(a.scenario, a.settings, (r.evidence for r in a.runs)),
                       killing_requests(b.scenario, b.settings, (r.evidence for r in b.runs)))
        sentence = explain_pair(*per_request)
    verdict = " ".join(part for part in (falsification(a, b, changes), flipped_sources(a, b), what_users_lost(a, b))
                       if part)
    return Comparison(a, b, changes, verdict, per_request, sentence)


def settings_diff(a: Any, b: Any, prefix: str = "") -> list[Change]:
    """Every leaf setting that differs, as dotted paths (lists compared whole)."""
    if isinstance(a, dict) and isinstance(b, dict):
        changes: list[Change] = []
        for key in sorted(set(a) | set(b)):
            if not prefix and key in IGNORED_SETTINGS:
                continue
            path = f"{prefix}.{key}" if prefix else str(key)
            changes += settings_diff(a.get(key), b.get(key), path)
        return changes
    return [] if a == b else [Change(prefix, a, b)]


def flipped_sources(a: ScenarioResult, b: ScenarioResult) -> str:
    """The sources whose verdict changed between A and B (what the change made visible or hid)."""
    b_rows = {row.source: row for row in b.matrix}
    flips = [f"{row.source} {row.verdict} -> {b_rows[row.source].verdict}" for row in a.matrix
             if row.source in b_rows and row.verdict != b_rows[row.source].verdict]
    return f"Sources that flipped: {', '.join(flips)}." if flips else ""


def what_users_lost(a: ScenarioResult, b: ScenarioResult) -> str:
    """Failed client requests and health-probe outages (with the longest), A against B."""
    def tally(result: ScenarioResult) -> tuple[int, int, float]:
        errors = sum(run.figures.client_errors for run in result.runs)
        outages = [o for run in result.runs for o in run.evidence.of("health_probe") if o.kill]
        longest = max((float(o.detail.get("duration_s") or 0.0) for o in outages), default=0.0)
        return errors, len(outages), longest

    (errors_a, outages_a, longest_a), (errors_b, outages_b, longest_b) = tally(a), tally(b)
    if (errors_a, outages_a) == (errors_b, outages_b):
        return ""
    def outage(n: int, longest: float) -> str:
        return f"{n}" + (f" (longest {longest:.1f} s)" if n else "")
    return (f"Failed client requests: {errors_a} in A, {errors_b} in B; health-probe outages: "
            f"{outage(outages_a, longest_a)} in A, {outage(outages_b, longest_b)} in B.")


def engine_diff(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    """The engine facts that differ (``engine.version``, ``engine.cgroup_version`` ...),
    and where each ran (the host, or the emulated guest)."""
    changes = [Change(f"engine.{key}", a.get(key), b.get(key)) for key in ENGINE_FACTS
               if a.get(key) is not None and b.get(key) is not None and a.get(key) != b.get(key)]
    where_a, where_b = _where(a), _where(b)
    if where_a != where_b:
        changes.append(Change("engine.host", where_a, where_b))
    return changes


def _where(engine: dict[str, Any]) -> str:
    host = engine.get("host")
    if isinstance(host, dict):
        return f"{host.get('kind', 'guest')} ({host.get('accel', '?')})"
    return "this machine"


def falsification(a: ScenarioResult, b: ScenarioResult, changes: list[Change]) -> str:
    """The verdict the labs' falsification sections ask for."""
    kills_a, kills_b = a.oom_kills, b.oom_kills
    runs_a, runs_b = len(a.runs), len(b.runs)
    variables = [c for c in changes if not c.is_procedure]
    changed = "; ".join(c.describe() for c in variables[:6]) or "no variable of the experiment differs"
    if any(c.is_procedure for c in changes):
        changed += " (the procedure differs too)"
    facts = f"A ({a.scenario}): {kills_a} OOM kill(s) in {runs_a} run(s); B ({b.scenario}): {kills_b} in {runs_b}."
    if kills_a and not kills_b:
        return f"Failure present in A, absent in B. {facts} Changed: {changed}. The change removed the failure."
    if kills_b and not kills_a:
        return f"Failure absent in A, present in B. {facts} Changed: {changed}. The change brought the failure in."
    if kills_a and kills_b:
        trend = "fewer" if kills_b < kills_a else "not fewer"
        return (f"Failure present in both. {facts} Changed: {changed}. "
                f"The change did not remove the failure ({trend} kills in B).")
    return f"No OOM kill in either. {facts} Changed: {changed}. Nothing to falsify."


def matrix_side_by_side(c: Comparison, fmt: str = "simple", platform: str | None = None) -> str:
    """The two matrices, a row per source; with ``platform``, its analogue of each source."""
    a_rows = {row.source: row for row in c.a.matrix}
    b_rows = {row.source: row for row in c.b.matrix}
    rows = []
    for source in dict.fromkeys([*a_rows, *b_rows]):  # A's rows, then alert rules only B evaluated
        mine, other = a_rows.get(source), b_rows.get(source)
        cells = (source, _cell(mine) if mine else "-", _cell(other) if other else "-")
        either = mine or other
        own = either.azure_analogue if either is not None else ""
        rows.append(cells + ((analogue(source, platform, own),) if platform else ()))
    headers: tuple[str, ...] = ("source", f"A: {c.a.scenario}", f"B: {c.b.scenario}")
    if platform:
        headers += (PLATFORM_HEADERS[platform],)
    return tabulate(rows, headers=headers, tablefmt=fmt, maxcolwidths=[None, None, None, 50])


def figures_side_by_side(c: Comparison, fmt: str = "simple") -> str:
    """Key figures of both, averaged over runs where there are several."""
    keys = ("oom_kills", "kill_threshold_mb", "time_to_oom_s", "peak_mb", "peak_1m_avg_mb",
            "client_errors", "health_failures")
    rows = [(key, _mean(c.a, key), _mean(c.b, key)) for key in keys]
    return tabulate(rows, headers=("figure (mean of runs)", "A", "B"), tablefmt=fmt)


def per_request_side_by_side(c: Comparison, fmt: str = "simple") -> str:
    """Kills per client request against attempts, for the requests that killed."""
    assert c.per_request is not None
    rows = []
    for key, side in zip(("A", "B"), c.per_request, strict=False):
        retries = "no ingress" if side.retries is None else (str(side.retries) if side.retries else "off")
        rows.append((f"{key}: {side.scenario}", retries, len(side.traces),
                     span([t.sent_by_proxy for t in side.traces if t.sent_by_proxy is not None]),
                     span(side.attempts_per_request), span(side.kills_per_request)))
    headers = ("scenario", "ingress retries", "requests that killed", "sent by ingress", "reached app",
               "kills per request")
    return tabulate(rows, headers=headers, tablefmt=fmt)


def render_comparison(c: Comparison, fmt: str = "simple", platform: str | None = None) -> str:
    parts = [f"compare A={c.a.scenario} B={c.b.scenario}", "", "Gap matrices", matrix_side_by_side(c, fmt, platform),
             "", "Key figures", figures_side_by_side(c, fmt), "", "Changed between A and B"]
    parts += [f"  - {ch.describe()}" + (" (procedure)" if ch.is_procedure else "")
              for ch in c.changes] or ["  (nothing)"]
    if c.per_request is not None:
        parts += ["", "Per client request (requests whose attempts caused a kill)", per_request_side_by_side(c, fmt),
                  "", f"Which explanation: {c.per_request_verdict}"]
    parts += ["", "Verdict: " + c.verdict]
    return "\n".join(parts)


def _cell(row: Any) -> str:
    seen = "n/a" if row.kills_seen is None else f"{row.kills_seen}/{row.ground_truth_kills}"
    return f"{row.verdict} ({seen})"


def _mean(result: ScenarioResult, key: str) -> str:
    values = [float(v) for r in result.runs if (v := getattr(r.figures, key)) is not None]
    return f"{sum(values) / len(values):g}" if values else "-"


def _size(value: Any) -> str:
    return format_size(value) if isinstance(value, int) else _show(value)


def _show(value: Any) -> str:
    return "unset" if value is None else str(value)
