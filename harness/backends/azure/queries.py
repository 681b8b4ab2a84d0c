"""The queries a run sends: the reference lab's KQL and its two metrics, at PT1M.

The KQL keeps the reference lab's shape (table, app filter, the system-log reasons it
leaves out, the projected columns). Two things differ: the time filter is the run's own
window instead of ``ago(2h)``, so runs never see each other's rows; and the console query
also keeps gunicorn's ``Booting worker`` lines and the lab's supervisor and PID-1 lines,
which the figures (replacement PIDs, kill threshold) need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

SYSTEM_TABLE = "ContainerAppSystemLogs_CL"
CONSOLE_TABLE = "ContainerAppConsoleLogs_CL"
# Reasons that only describe configuration changes, never a container's fate.
IGNORED_REASONS = ("ContainerAppUpdate", "RevisionUpdate")
CONSOLE_TERMS = ("SIGKILL", "ERROR", "OOM", "Booting", "SUPERVISOR", "PID1", "MemoryError")
METRICS_API_VERSION = "2023-10-01"
METRIC_NAMESPACE = "Microsoft.App/containerApps"


def iso(t: float) -> str:
    """A Unix time as the UTC ISO 8601 text KQL and the metrics API take."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _window(start: str, end: str) -> str:
    return f"| where TimeGenerated between (datetime({start}) .. datetime({end}))"


def system_logs_query(app: str, start: str, end: str) -> str:
    """Every system log row of ``app`` in [start, end] except configuration updates."""
    return "\n".join((
        SYSTEM_TABLE,
        _window(start, end),
        f"| where ContainerAppName_s == '{app}'",
        f"| where Reason_s !in ({_quoted(IGNORED_REASONS)})",
        "| project TimeGenerated, Reason_s, Type_s, Log_s",
        "| order by TimeGenerated asc",
    ))


def console_logs_query(app: str, start: str, end: str) -> str:
    """The console lines of ``app`` in [start, end] that carry kill or memory evidence."""
    return "\n".join((
        CONSOLE_TABLE,
        _window(start, end),
        f"| where ContainerAppName_s == '{app}'",
        f"| where Log_s has_any ({_quoted(CONSOLE_TERMS)})",
        "| project TimeGenerated, Log_s",
        "| order by TimeGenerated asc",
    ))


@dataclass(frozen=True)
class MetricRequest:
    """One Azure Monitor platform metric of a Container App."""

    metric: str
    aggregation: str
    interval: str = "PT1M"

    def params(self, start: str, end: str) -> dict[str, str]:
        """Query parameters of the ARM metrics API (``.../providers/Microsoft.Insights/metrics``)."""
        return {
            "api-version": METRICS_API_VERSION,
            "metricnames": self.metric,
            "metricnamespace": METRIC_NAMESPACE,
            "aggregation": self.aggregation,
            "interval": self.interval,
            "timespan": f"{start}/{end}",
        }

    def az_command(self, resource_id: str, start: str, end: str) -> str:
        """The ``az monitor metrics list`` command that prints the same JSON."""
        return (f"az monitor metrics list --resource {resource_id} --metric {self.metric} "
                f"--interval {self.interval} --aggregation {self.aggregation} "
                f"--start-time {start} --end-time {end}")


WORKING_SET = MetricRequest("WorkingSetBytes", "Average")
RESTART_COUNT = MetricRequest("RestartCount", "Maximum")
