"""The Markdown report: the same tables as the terminal, plus how to read them."""

from __future__ import annotations

from harness.report.table import (
    engine_line,
    figures_table,
    kill_line_table,
    matrix_table,
    pressure_tables,
    request_tables,
    spread_table,
    unreported_kills,
)
from harness.result import ScenarioResult

READING = (
    "Ground truth is the container's cgroup OOM counter (and the kernel log). A source is "
    "*visible* when it showed every kill, *partial* when it showed some (or showed the drop "
    "but under-reported the peak by more than 10 %), *gap* when it showed none, and "
    "*misleading* when it claimed kills that did not happen (console kill lines with no "
    "OOM kill behind them, counted in the note), *unavailable* when this machine could not "
    "read it. 1-minute averages are taken over "
    "wall-clock minutes, the parts of a minute outside the run filled at the idle level "
    "measured at the run's start and end, as if the container had idled there."
)


KILL_LINES_READING = (
    "Each console line that says a worker was killed, whose pattern matched it (the defaults "
    "know gunicorn, uWSGI, uvicorn and the lab supervisor; a scenario adds its own with "
    "`target.kill_log_patterns`) and the OOM kill it reported, paired by time with the cgroup "
    "counter's kills. A line with no OOM kill behind it is a false claim. Below, for each OOM "
    "kill no line reported, the console lines nearest to it. Times are seconds from the run's start."
)


REQUESTS_READING = (
    "Every client request carries an X-Request-Id. *Sent by ingress* is the proxy's first "
    "attempt plus its retries, from its access log; *reached app* counts the lab app's "
    "`[REQ] start` lines with that id; *kills* counts the attempts whose worker was OOM-killed "
    "while serving them. More arrivals than the ingress sent would mean the request was "
    "re-sent behind the proxy."
)


def render_markdown(result: ScenarioResult, plot_file: str | None = None, platform: str = "azure") -> str:
    engine = result.engine
    lines = [
        f"# oom-harness: {result.scenario}",
        "",
        f"{len(result.runs)} run(s) on {engine_line(engine)}. "
        f"Expectations: **{'passed' if result.passed else 'FAILED'}**.",
        "",
        "## Gap matrix",
        "",
        matrix_table(result.matrix, fmt="github", platform=platform),
        "",
        READING,
        "",
        "## Runs",
        "",
        figures_table(result, fmt="github"),
    ]
    if len(result.runs) > 1:
        lines += ["", "## Spread across runs", "", spread_table(result, fmt="github")]
    kill_lines, unreported = kill_line_table(result, fmt="github"), unreported_kills(result)
    if kill_lines or unreported:
        lines += ["", "## Console kill lines", "", KILL_LINES_READING, ""] + ([kill_lines] if kill_lines else [])
        if unreported:
            lines += ["", "```", *unreported, "```"]
    pressure = pressure_tables(result, fmt="github")
    if pressure:
        lines += ["", "## Memory pressure", "", *pressure]
    requests = request_tables(result, fmt="github")
    if requests:
        lines += ["", "## Per client request", "", REQUESTS_READING, "", *requests]
    from harness.report.alerting import alerting_section

    alerting = alerting_section(result, engine_line(engine), fmt="github")
    if alerting:
        lines += ["", "## Alerting rules", "", *alerting[:-1], "", alerting[-1]]
    if plot_file:
        lines += ["", "## Memory timeline", "", f"![memory timeline]({plot_file})"]
    if result.failures:
        lines += ["", "## Failed expectations", ""] + [f"- {f}" for f in result.failures]
    return "\n".join(lines) + "\n"
