"""The playbook's decision tree, walked on a result's evidence: where every verdict is made.

The memory-leak playbook asks, in order: was the replica killed for memory; does memory
grow toward the limit (no: look for another cause); how does the growth go with traffic
and time; does it reset after the restart and grow again (yes: a leak or an unbounded
buffer; no: peak demand over the limit). Each question is one function below that
returns a :class:`Branch` with its typed answer (:mod:`harness.diagnose.verdicts`) and
the figures behind it; :func:`conclude` turns the answers into one of three conclusions.
Decisions compare those answers, never their words (:mod:`harness.diagnose.wording`).

One refinement over the playbook: a climb from baseline to the limit within a couple of
seconds on one request is a peak, whatever happens after the restart, because the same
request would be killed again at any limit it does not fit in.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from harness.collectors import console_logs
from harness.diagnose.advice import advice
from harness.diagnose.memory import CONSOLE, HIGH, MINUTE, mb
from harness.diagnose.model import Branch, Diagnosis
from harness.diagnose.runs import FalseKill, RunFacts, facts_of
from harness.diagnose.verdicts import Answer, Certainty, Conclusion, Growth, Killed, Question, Repeat, Shape
from harness.evidence import Observation, RunEvidence
from harness.matrix import MatrixRow, aggregate, build_matrix, figures
from harness.result import ScenarioResult
from harness.scenario.units import format_size
from harness.units import MIB

NEAR_LIMIT = 0.85  # memory this close to the limit "grows toward" it
FAR_BELOW = 0.50  # ... and below this fraction it is well below it
JUMP_S = 2.0  # a rise (10 % to 90 %) this fast is a jump, not a climb
SAME_THRESHOLD = 0.10  # kills within a tenth of each other happened "at the same point"
FLAT_BYTES = 16 * MIB  # a rise smaller than this is no rise


def diagnose(result: ScenarioResult) -> Diagnosis:
    """Walk the tree on a loaded result (any backend)."""
    runs = [facts_of(r.evidence, r.figures) for r in result.runs]
    return walk(result.scenario, runs, result.matrix, result.settings)


def diagnose_runs(
    evidence: Sequence[RunEvidence], scenario: str = "runs", settings: dict[str, Any] | None = None
) -> Diagnosis:
    """Walk the tree on bare evidence (e.g. built in a test or imported from a platform)."""
    runs = [facts_of(ev, figures(ev)) for ev in evidence]
    matrix = aggregate([build_matrix(ev) for ev in evidence]) if evidence else []
    return walk(scenario, runs, matrix, settings or {})


def walk(scenario: str, runs: list[RunFacts], matrix: list[MatrixRow], settings: dict[str, Any]) -> Diagnosis:
    """Ask the questions in the playbook's order, stopping where it stops."""
    kill, growth = kill_branch(runs), growth_branch(runs)
    branches: list[Branch[Answer]] = [kill, growth]
    rise: tuple[Shape, Repeat] | None = None
    if growth.verdict is Growth.YES:
        shape = shape_branch(runs)
        repeat = repeat_branch(runs, shape.verdict)
        branches += [shape, repeat]
        rise = shape.verdict, repeat.verdict
    conclusion, confidence = conclude(kill, growth.verdict, rise)
    backend = ", ".join(sorted({r.evidence.backend for r in runs})) or "unknown"
    return Diagnosis(scenario, backend, len(runs), conclusion, confidence, tuple(branches),
                     advice(conclusion, runs, matrix, settings))


# ---------------------------------------------------------------------------------------
# A: was anything killed for memory?


def kill_branch(runs: list[RunFacts]) -> Branch[Killed]:
    """Count the memory kills of every run and say what the container did meanwhile."""
    evidence = [_kill_line(run) for run in runs]
    evidence += [_false_kill_line(run, false) for run in runs for false in run.false_kills]
    evidence += _grouped([(run.run, _container_line(run)) for run in runs])
    undecided: list[str] = []
    for run in runs:
        refused = sum(1 for o in run.evidence.of("console_logs") if o.kind == "memory_error")
        if refused:
            evidence.append(f"run {run.run}: the app logged {refused} MemoryError line(s): an allocation was refused")
            if not run.killed:
                undecided.append(
                    "MemoryError without a kill: memory ran out inside the process (an allocation refused, e.g. by "
                    "an address-space limit) before the container limit was reached; the tree starts from a kill, "
                    "so it does not judge that failure")
        if run.killed and not run.has_ground_truth:
            undecided.append(
                f"no cgroup counter or kernel log on this backend: kills counted from {run.kill_source}, "
                "which only shows the kills the app or the platform reports")
        if not run.killed and not run.has_ground_truth:
            undecided.append("no cgroup counter or kernel log on this backend: a kill that nothing logs "
                             "would not show here")
    if not runs:
        answer = Killed.UNDECIDED
        undecided.append("the result holds no runs: there is nothing to judge")
    else:
        answer = Killed.YES if any(r.killed for r in runs) else Killed.NO
    return Branch(Question.KILL, answer, tuple(evidence), tuple(dict.fromkeys(undecided)))


def _kill_line(run: RunFacts) -> str:
    """The run's kills as its kill source counted them, with the victim and the console's PIDs."""
    count = len(run.kill_times)
    if not count:
        reason = f"the {run.kill_source} counter stayed at 0" if run.has_ground_truth else "no kill signs"
        return f"run {run.run}: no OOM kill ({reason})"
    if run.confirmed:
        line = f"run {run.run}: {count} OOM kill{'s' if count > 1 else ''} (from {run.kill_source})"
    else:
        kills = f"{count} kill{'s' if count > 1 else ''}"
        line = f"run {run.run}: {kills} by SIGKILL, not confirmed as OOM (from {run.kill_source})"
    victim = next((k for k in run.evidence.kills if k.victim_name), None)
    if victim is not None:
        rss = f", anon RSS {victim.anon_rss_kb / 1024:.0f} MB" if victim.anon_rss_kb else ""
        line += f"; the kernel's victim: {victim.victim_name}{rss}"
    killed, new = run.figures.killed_pids, run.figures.replacement_pids
    if killed:
        line += f"; console: worker PID {_pids(killed)} reported killed"
        line += f", replaced by PID {_pids(new)}" if new else ", no replacement logged"
    return line


def _false_kill_line(run: RunFacts, false: FalseKill) -> str:
    """A console kill line the ground truth contradicts, and what explains it."""
    line = f'run {run.run}: the console says "{_quote(false.line)}" but the {run.kill_source} counter saw no OOM kill'
    if false.timeout is not None:
        line += (f'; {false.line.t - false.timeout.t:.1f} s before, the server logged "{_quote(false.timeout)}": '
                 "it killed its own worker for running past its timeout")
    else:
        line += "; something other than the kernel's OOM killer sent that SIGKILL"
    if false.request is not None:
        detail = false.request.detail
        line += (f"; the worker was serving {detail.get('method')} {detail.get('path')} "
                 f"(arrived {false.line.t - false.request.t:.1f} s before the kill)")
    return line


def _quote(obs: Observation) -> str:
    """The message of a console line, without the server's own time and level prefix."""
    return console_logs.message(str(obs.detail.get("line", "")))[:120]


def _container_line(run: RunFacts) -> str:
    """What the container did meanwhile: exits, exit codes, OOMKilled and the restart count."""
    if not run.evidence.available("lifecycle_events"):
        return "no lifecycle events on this backend: whether the container exited is unknown"
    exits = run.exits()
    state = run.evidence.final_state
    restarts = state.restart_count if state is not None else None
    restart_text = f", restart count {restarts}" if restarts is not None else ""
    if not exits:
        if run.killed:
            return (f"the container never exited{restart_text}: the kill stayed inside it, "
                    "so lifecycle events and the restart count had nothing to report")
        return f"the container never exited{restart_text}"
    codes = ", ".join(str(o.detail.get("exit_code", "unknown")) for o in exits)
    oom = sum(1 for o in run.evidence.of("engine_state") if o.kind == "oom_killed")
    return f"the container exited {len(exits)} time(s) (codes {codes}; OOMKilled {oom} time(s){restart_text})"


# ---------------------------------------------------------------------------------------
# C: does memory grow toward the limit?


def growth_branch(runs: list[RunFacts]) -> Branch[Growth]:
    """Judge each run's memory against its limit from the best series it has."""
    evidence: list[str] = []
    undecided: list[str] = []
    answers: list[Growth] = []
    for run in runs:
        answer, lines, unknown = _growth_of(run)
        answers.append(answer)
        evidence += lines
        undecided += unknown
    return Branch(Question.GROWTH, _overall_growth(answers), tuple(evidence), tuple(dict.fromkeys(undecided)))


def _overall_growth(answers: list[Growth]) -> Growth:
    """Yes when any run grew toward its limit, no when every run stayed below it."""
    if Growth.YES in answers:
        return Growth.YES
    if answers and all(a is Growth.NO for a in answers):
        return Growth.NO
    return Growth.UNDECIDED


def _growth_of(run: RunFacts) -> tuple[Growth, list[str], list[str]]:
    """Whether one run's memory grew toward its limit, the line that shows it and what
    its readings could not tell."""
    series, climb, limit = run.series, run.climb, run.limit
    unknown: list[str] = []
    if limit is None:
        unknown.append("memory limit unknown: how close memory came to it cannot be said")
    if series is None or climb is None:
        if run.killed:
            unknown.append("no memory readings at all: 'toward the limit' is taken from the kill itself")
            line = f"run {run.run}: no memory readings; the kill itself shows memory reached the limit"
            return Growth.YES, [line], unknown
        unknown.append("no memory readings at all: growth cannot be judged")
        return Growth.UNDECIDED, [f"run {run.run}: no memory readings"], unknown
    share = climb.peak_bytes / limit if limit else None
    of_limit = f", {share:.0%} of the {format_size(limit)} limit" if share is not None and limit else ""
    the = "the " if run.killed else ""
    before = " before the kill" if run.killed else ""
    if series.resolution == MINUTE:
        unknown.append("no high-resolution samples on this backend: growth judged from 1-minute averages, "
                       "which hide any peak shorter than a minute")
        line = f"run {run.run}: {series.label} peaked at {mb(climb.peak_bytes)}{before}{of_limit}"
        return _minute_growth(run, share, line, unknown)
    if series.resolution == CONSOLE:
        unknown.append(f"no high-resolution samples on this backend: growth judged from the {len(series.points)} "
                       "RSS lines the app logged")
    if climb.rise_bytes < FLAT_BYTES:
        line = f"run {run.run}: {series.label} stayed near {mb(climb.peak_bytes)}{before}{of_limit}"
    else:
        line = (f"run {run.run}: {series.label} rose from {mb(climb.base_bytes)} to {mb(climb.peak_bytes)} "
                f"over {the}{climb.duration_s:.1f} s{before}{of_limit}")
    if share is None:
        return (Growth.YES if run.killed else Growth.UNDECIDED), [line], unknown
    if share >= NEAR_LIMIT:
        return Growth.YES, [line], unknown
    if run.killed and run.confirmed:
        # The OOM killer only acts at the limit: the readings missed the last stretch.
        line += "; the readings stop short of the limit, but an OOM kill happens only at it"
        return Growth.YES, [line], unknown
    return Growth.NO, [line + ("; well below it" if share < FAR_BELOW else "")], unknown


def _minute_growth(
    run: RunFacts, share: float | None, line: str, unknown: list[str]
) -> tuple[Growth, list[str], list[str]]:
    """Growth judged from 1-minute averages: a kill in between shows the limit was reached."""
    if run.killed:
        return Growth.YES, [line + "; the kill itself shows memory reached the limit in between"], unknown
    if share is not None and share >= NEAR_LIMIT:
        return Growth.YES, [line], unknown
    if share is not None and share < FAR_BELOW:
        return Growth.NO, [line + "; well below it"], unknown
    return Growth.UNDECIDED, [line], unknown


# ---------------------------------------------------------------------------------------
# E: how does the growth go with traffic and time?


def shape_branch(runs: list[RunFacts]) -> Branch[Shape]:
    """A steady climb over time, or a jump on one request? Judged on the rise up to the
    first kill (or the run's peak) of every run that has one."""
    evidence: list[str] = []
    undecided: list[str] = []
    shapes: list[Shape] = []
    for run in runs:
        if not run.killed and not _near(run):
            continue
        shape, line, unknown = _shape_of(run)
        shapes.append(shape)
        evidence.append(line)
        undecided += unknown
    answer, disagreement = _overall_shape(shapes)
    undecided += disagreement
    return Branch(Question.SHAPE, answer, tuple(evidence), tuple(dict.fromkeys(undecided)))


def _overall_shape(shapes: list[Shape]) -> tuple[Shape, list[str]]:
    """The shape all the runs that showed one agree on; else the majority's, marked as
    mixed, and a line saying how the runs split."""
    decided = [s for s in shapes if s is not Shape.UNDECIDED]
    if not decided:
        return Shape.UNDECIDED, []
    if all(s is decided[0] for s in decided):
        return decided[0], []
    steady, jumps = decided.count(Shape.STEADY), decided.count(Shape.JUMP)
    mostly = Shape.STEADY if steady >= jumps else Shape.JUMP
    return Shape.mixed(mostly), [f"the runs disagree: {steady} climbed steadily, {jumps} jumped; "
                                 "the conclusion follows the majority"]


def _shape_of(run: RunFacts) -> tuple[Shape, str, list[str]]:
    """How one run's memory rose: ``STEADY``, ``JUMP`` or ``UNDECIDED``, the line that
    shows it and what the readings could not tell."""
    series, climb = run.series, run.climb
    if series is None or climb is None or climb.points < 2:
        return Shape.UNDECIDED, f"run {run.run}: no memory readings to time the rise", [
            "no memory readings: a climb cannot be told from a jump"]
    if series.resolution == MINUTE:
        return _minute_shape(run)
    if climb.rise_time_s <= JUMP_S:
        line = (f"run {run.run}: a jump from {mb(climb.base_bytes)} to {mb(climb.peak_bytes)} "
                f"in {climb.rise_time_s:.1f} s{_trigger(run)}")
        unknown = [] if series.resolution == HIGH else [
            "the app's RSS lines are sparse: a jump between two of them may look like a climb"]
        return Shape.JUMP, line, unknown
    rate = climb.rise_bytes / MIB / climb.duration_s if climb.duration_s else 0.0
    way = "with falls on the way" if climb.falls else "never falling back on the way"
    line = (f"run {run.run}: a steady climb for {climb.duration_s:.1f} s at about {rate:.0f} MB/s "
            f"over {climb.points} readings, {way}{_traffic(run)}")
    return Shape.STEADY, line, []


def _minute_shape(run: RunFacts) -> tuple[Shape, str, list[str]]:
    """A steady climb when the 1-minute averages rose at least twice in a row up to the
    first kill (or the run's end); anything shorter they cannot tell from a jump."""
    series = run.series
    assert series is not None
    end = run.kill_times[0] if run.killed else series.points[-1][0]
    minutes = [v for t, v in series.points if t <= end]
    rising = 0
    for before, after in pairwise(minutes):
        rising = rising + 1 if after > before else 0
    if rising >= 2:
        return Shape.STEADY, f"run {run.run}: the 1-minute average rose for {rising + 1} minutes in a row", []
    return Shape.UNDECIDED, f"run {run.run}: the 1-minute averages rose over {rising + 1} minute(s) only", [
        "1-minute averages cannot tell a climb of a few seconds from a jump"]


def _trigger(run: RunFacts) -> str:
    """The request that started a jump, and what came back to the client."""
    climb = run.climb
    assert climb is not None
    started = [r for r in run.evidence.requests if climb.start_t - 1.0 <= r.t <= climb.peak_t]
    spikes = [o for o in run.evidence.of("console_logs")
              if o.kind == "spike" and climb.start_t - 1.0 <= o.t <= climb.peak_t]
    text = ""
    if len(started) == 1:
        req = started[0]
        outcome = req.error or (str(req.status) if req.status else "no answer")
        text = f", on one request: {req.method} {req.path} (step {req.step}), which got {outcome}"
    elif started:
        text = f", while {len(started)} requests ran"
    if spikes and spikes[0].detail.get("mb"):
        text += f"; the app logged a {spikes[0].detail['mb']} MB allocation"
    return text


def _traffic(run: RunFacts) -> str:
    """What the client sent during a climb: growth that goes on while every request is
    answered follows time, not one request."""
    climb = run.climb
    assert climb is not None
    during = [r for r in run.evidence.requests if climb.start_t <= r.t <= climb.peak_t]
    if not during:
        return "; no requests during the climb"
    failed = sum(1 for r in during if r.error)
    answered = "all answered" if not failed else f"{failed} failed"
    return f"; {len(during)} requests during the climb, {answered}"


# ---------------------------------------------------------------------------------------
# F: does it reset after the restart and grow again?


def repeat_branch(runs: list[RunFacts], shape: Shape) -> Branch[Repeat]:
    """Look after each kill (the sawtooth within a run) and across runs (each run is a
    fresh container: the same climb again is the repeat)."""
    killed = [r for r in runs if r.killed]
    answer, evidence, undecided = _repeat_of(killed, shape)
    evidence = [line for run in killed for line in _reset_lines(run)] + evidence
    if any(r.series is not None and r.series.resolution == MINUTE for r in killed):
        undecided.append("1-minute averages show a reset only when it lasts across minutes")
    return Branch(Question.REPEAT, answer, tuple(evidence), tuple(dict.fromkeys(undecided)))


def _repeat_of(killed: list[RunFacts], shape: Shape) -> tuple[Repeat, list[str], list[str]]:
    """Whether the growth repeated, given the killed runs and the shape of their rise: the
    answer, the evidence beyond each run's resets, and what could not be told."""
    steady = [r for r in killed if _shape_of(r)[0] is Shape.STEADY]
    if any(reset.grows_again for r in killed for reset in r.resets):
        return Repeat.WITHIN_A_RUN, [], []
    if shape.majority is Shape.STEADY and len(steady) >= 2:
        answer = Repeat.IN_EVERY_RUN if len(steady) == len(killed) else Repeat.IN_MOST_RUNS
        return answer, [_across_line(steady, len(killed))], _short_watch(killed)
    if shape.majority is Shape.JUMP:
        return Repeat.NO, ["each kill followed a jump on one request, not a renewed climb"], []
    if not killed:
        return Repeat.UNDECIDED, [], ["no kill: no restart to look after"]
    if _watched_long_enough(killed):
        return Repeat.NO, [], []
    return Repeat.UNDECIDED, [], ["one cycle only: cannot tell whether growth repeats after the restart "
                                  "(run the scenario again, e.g. --repeat 3)", *_short_watch(killed)]


def _reset_lines(run: RunFacts) -> list[str]:
    """What memory did after each of the run's kills, one line each."""
    lines = []
    killed, new = run.figures.killed_pids, run.figures.replacement_pids
    for i, reset in enumerate(run.resets):
        who = f"worker PID {killed[i]} killed" if i < len(killed) else f"kill {i + 1}"
        if i < len(new):
            who += f", replaced by {new[i]}"
        if reset.level_bytes is None:
            lines.append(f"run {run.run}: {who}; no memory readings after it")
            continue
        back = f"memory back to {mb(reset.level_bytes)}"
        if reset.grows_again:
            lines.append(f"run {run.run}: {who}, {back} then rising again (to {mb(reset.later_peak_bytes)})")
        else:
            lines.append(f"run {run.run}: {who}, {back} and flat for the {reset.watched_s:.1f} s the run went on")
    if len(run.kill_times) > 1:
        lines.append(f"run {run.run}: {len(run.kill_times)} kills in one run")
    return lines


def _across_line(steady: list[RunFacts], killed: int) -> str:
    """The same steady climb in several fresh containers: the repeat seen across runs."""
    thresholds = [r.figures.kill_threshold_mb for r in steady if r.figures.kill_threshold_mb is not None]
    durations = [r.climb.duration_s for r in steady if r.climb is not None]
    line = (f"{len(steady)} of {killed} runs, each a fresh container, climbed steadily to a kill "
            f"after {_span([round(d, 1) for d in durations])} s")
    if thresholds and max(thresholds) <= (1 + SAME_THRESHOLD) * min(thresholds):
        line += f", at {_span(thresholds)} MB allocated"
    return line + ": the growth repeats"


def _short_watch(killed: list[RunFacts]) -> list[str]:
    """Say when runs ended too soon after their kill to see the replacement grow."""
    short = []
    for run in killed:
        last = run.resets[-1] if run.resets else None
        if run.climb is None or last is None or last.grows_again or last.level_bytes is None:
            continue
        if last.watched_s < run.climb.duration_s:
            short.append((run, last.watched_s, run.climb.duration_s))
    if not short:
        return []
    if len(short) == 1:
        run, watched, took = short[0]
        return [(f"run {run.run} went on for only {watched:.1f} s after the restart, less than the {took:.1f} s "
                 "its climb took: whether the replacement grows again was not observable")]
    watched = max(w for _, w, _ in short)
    took = min(t for _, _, t in short)
    return [(f"{len(short)} runs went on for at most {watched:.1f} s after the restart, less than the {took:.1f} s "
             "or more their climbs took: whether the replacement grows again within a run was not observable")]


def _watched_long_enough(killed: list[RunFacts]) -> bool:
    """True when memory stayed flat after a kill for longer than the climb before it."""
    for run in killed:
        last = run.resets[-1] if run.resets else None
        if run.climb is None or last is None or last.level_bytes is None or last.grows_again:
            return False
        if last.watched_s < run.climb.duration_s:
            return False
    return True


def _near(run: RunFacts) -> bool:
    """True when the run's memory came within ``NEAR_LIMIT`` of its limit."""
    return bool(run.climb and run.limit and run.climb.peak_bytes >= NEAR_LIMIT * run.limit)


def _grouped(lines: list[tuple[int, str]]) -> list[str]:
    """Lines that read the same for several runs, said once: ``runs 1, 2, 3: ...``."""
    runs_of: dict[str, list[int]] = {}
    for run, text in lines:
        runs_of.setdefault(text, []).append(run)
    return [f"run{'s' if len(runs) > 1 else ''} {_pids(runs)}: {text}" for text, runs in runs_of.items()]


def _span(values: list[float]) -> str:
    """``14.3`` or ``14.3-14.8``."""
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _pids(pids: list[int]) -> str:
    """``7, 11``: PIDs (or run numbers) as a list for a sentence."""
    return ", ".join(str(p) for p in pids)


# ---------------------------------------------------------------------------------------
# The conclusion


def conclude(
    kill: Branch[Killed], growth: Growth, rise: tuple[Shape, Repeat] | None = None
) -> tuple[Conclusion, Certainty]:
    """The leaf of the tree the answers lead to, and how firmly.

    ``rise`` holds the shape and repeat answers, which the tree only asks when memory
    grows toward the limit.
    """
    if kill.verdict is Killed.NO:
        # "No kill" is only as sure as the kill counter behind it (see the kill branch).
        return Conclusion.OTHER, Certainty.of(growth is Growth.NO and not kill.undecided)
    if growth is not Growth.YES or rise is None:
        return Conclusion.OTHER, Certainty.of(growth is Growth.NO)
    return _conclude_rise(*rise)


def _conclude_rise(shape: Shape, repeat: Repeat) -> tuple[Conclusion, Certainty]:
    """Where a kill after growth toward the limit leads: a jump is peak demand; a steady
    climb that repeats is a leak suspicion; firm only when the runs agreed on the shape."""
    if shape.majority is Shape.JUMP:
        return Conclusion.PEAK, Certainty.of(shape.unanimous)
    if shape.majority is Shape.STEADY:
        if repeat.seen:
            return Conclusion.LEAK, Certainty.of(shape.unanimous)
        # The playbook's "no" leads to peak demand; not knowing keeps the leak suspicion.
        return (Conclusion.LEAK if repeat is Repeat.UNDECIDED else Conclusion.PEAK), Certainty.TENTATIVE
    # No shape from the evidence: only a repeat seen in the readings can still point at a leak.
    return (Conclusion.LEAK if repeat.seen else Conclusion.PEAK), Certainty.TENTATIVE
