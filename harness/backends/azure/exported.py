"""Reading the JSON Azure prints, into small typed records.

The shapes are those of ``az monitor log-analytics query`` (a list of rows, every value
printed as text, plus ``TableName``), ``az monitor metrics list`` (``value`` -> metric ->
``timeseries`` -> ``data`` points with ``timeStamp`` and one key per aggregation) and
``az containerapp replica list`` (replicas with ``properties.containers[].restartCount``).
The live backend gets its API answers in the same shapes, so this one reader serves a run
and an import. Every error names its input (``where``) and what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.backends.azure.errors import AzureDataError

AGGREGATIONS = ("average", "minimum", "maximum", "total", "count")


@dataclass(frozen=True)
class LogRow:
    """One row of a Log Analytics query: its time and every column as text."""

    t: float
    columns: Mapping[str, str] = field(default_factory=dict)

    def get(self, *names: str) -> str:
        """The first non-empty column among ``names`` (``Log_s`` or the newer ``Log``)."""
        for name in names:
            value = self.columns.get(name)
            if value:
                return value
        return ""


@dataclass(frozen=True)
class MetricPoint:
    """One interval of a metric: its start and the aggregations that had data."""

    t: float
    values: Mapping[str, float]


@dataclass(frozen=True)
class MetricSeries:
    """One metric over time (dimensions merged), points in time order."""

    name: str
    unit: str | None
    interval_s: float | None
    points: list[MetricPoint]

    def values(self, *aggregations: str) -> list[tuple[float, float]]:
        """(time, value) of the points that have the first aggregation found among ``aggregations``."""
        out = []
        for point in self.points:
            for aggregation in aggregations:
                if aggregation in point.values:
                    out.append((point.t, point.values[aggregation]))
                    break
        return out


@dataclass(frozen=True)
class ContainerState:
    """One container of a replica, as the replica API reports it."""

    name: str
    restart_count: int
    running_state: str | None = None
    details: str | None = None


@dataclass(frozen=True)
class ReplicaState:
    """One replica of a revision and its containers."""

    name: str
    created: float | None
    running_state: str | None
    containers: list[ContainerState]

    @property
    def restart_count(self) -> int:
        return sum(c.restart_count for c in self.containers)


def load_json(path: Path) -> Any:
    """Parse a JSON file; the error names the file and where the JSON breaks."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # az on Windows may write a BOM
    except FileNotFoundError as exc:
        raise AzureDataError(f"{path}: no such file") from exc
    except OSError as exc:
        raise AzureDataError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AzureDataError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc


def parse_time(value: Any, where: str) -> float:
    """Unix seconds from the times Azure prints (``2026-04-10T14:08:14.1234567Z``,
    ``2026-04-10T14:08:00+00:00``, ``2026-04-10 14:08:14+00:00``) or a datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise AzureDataError(f"{where}: {value!r} is not a time") from None
    else:
        raise AzureDataError(f"{where}: {value!r} is not a time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Azure times are UTC
    return moment.timestamp()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def log_rows(data: Any, where: str) -> list[LogRow]:
    """Rows of a Log Analytics answer, in time order.

    Takes the list ``az monitor log-analytics query`` prints, or the query API's own
    ``{"tables": [{"columns": [...], "rows": [[...]]}]}``.
    """
    if isinstance(data, Mapping) and "tables" in data:
        records = list(_table_records(data["tables"], where))
    elif isinstance(data, list):
        records = data
    else:
        raise AzureDataError(f"{where}: expected the list of rows `az monitor log-analytics query` prints, "
                             f"got {type(data).__name__}")
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise AzureDataError(f"{where}: row {index + 1} is not an object")
        if "TimeGenerated" not in record:
            raise AzureDataError(f"{where}: row {index + 1} has no TimeGenerated column")
        t = parse_time(record["TimeGenerated"], f"{where}: row {index + 1}: TimeGenerated")
        rows.append(LogRow(t, {str(k): _text(v) for k, v in record.items()}))
    return sorted(rows, key=lambda r: r.t)


def _table_records(tables: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(tables, list):
        raise AzureDataError(f"{where}: tables is not a list")
    records = []
    for table in tables:
        try:
            names = [c["name"] if isinstance(c, Mapping) else str(c) for c in table["columns"]]
            for row in table["rows"]:
                records.append(dict(zip(names, row, strict=False)))
        except (KeyError, TypeError) as exc:
            raise AzureDataError(f"{where}: a table lacks columns or rows ({exc})") from exc
    return records


def _duration_s(value: Any) -> float | None:
    """``PT1M`` (ISO 8601, what the API sends) or ``0:01:00`` (what older az printed)."""
    if not isinstance(value, str):
        return None
    iso = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", value.strip(), re.I)
    if iso and any(iso.groups()):
        h, m, s = iso.groups()
        return int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0)
    clock = re.fullmatch(r"(\d+):(\d{2}):(\d{2})", value.strip())
    if clock:
        h, m, s = clock.groups()
        return int(h) * 3600 + int(m) * 60 + int(s)
    return None


def metric_series(data: Any, metric: str, where: str) -> MetricSeries:
    """The series of ``metric`` in an ``az monitor metrics list`` answer.

    Several timeseries (one per dimension value, e.g. per replica) are merged per
    timestamp: averages averaged, maxima maxed, totals and counts added.
    """
    if isinstance(data, Mapping) and "value" in data:
        metrics = data["value"]
    elif isinstance(data, list):
        metrics = data
    else:
        raise AzureDataError(f"{where}: expected the object `az monitor metrics list` prints (with \"value\")")
    if not isinstance(metrics, list):
        raise AzureDataError(f"{where}: \"value\" is not a list")
    found = []
    for item in metrics:
        name = _metric_name(item)
        found.append(name)
        if name.lower() == metric.lower():
            points = _merged_points(item, f"{where}: {name}")
            return MetricSeries(name, item.get("unit"), _duration_s(data.get("interval")) if isinstance(data, Mapping)
                                else None, points)
    listed = ", ".join(n for n in found if n) or "none"
    raise AzureDataError(f"{where}: no {metric} metric in it (metrics found: {listed})")


def _metric_name(item: Any) -> str:
    if not isinstance(item, Mapping):
        return ""
    name = item.get("name")
    if isinstance(name, Mapping):
        return str(name.get("value") or "")
    return str(name or "")


def _merged_points(item: Mapping[str, Any], where: str) -> list[MetricPoint]:
    series = item.get("timeseries")
    if not isinstance(series, list):
        raise AzureDataError(f"{where}: no timeseries list")
    by_time: dict[float, dict[str, list[float]]] = {}
    for one in series:
        data = one.get("data") if isinstance(one, Mapping) else None
        if not isinstance(data, list):
            raise AzureDataError(f"{where}: a timeseries has no data list")
        for index, point in enumerate(data):
            if not isinstance(point, Mapping):
                raise AzureDataError(f"{where}: data point {index + 1} is not an object")
            stamp = point.get("timeStamp", point.get("timestamp"))
            t = parse_time(stamp, f"{where}: data point {index + 1}: timeStamp")
            slot = by_time.setdefault(t, {})
            for aggregation in AGGREGATIONS:
                value = point.get(aggregation)
                if value is None:
                    continue
                try:
                    slot.setdefault(aggregation, []).append(float(value))
                except (TypeError, ValueError):
                    raise AzureDataError(f"{where}: data point {index + 1}: {aggregation} {value!r} "
                                         "is not a number") from None
    return [MetricPoint(t, {k: _merge(k, v) for k, v in values.items()}) for t, values in sorted(by_time.items())]


def _merge(aggregation: str, values: list[float]) -> float:
    if aggregation == "maximum":
        return max(values)
    if aggregation == "minimum":
        return min(values)
    if aggregation in ("total", "count"):
        return sum(values)
    return sum(values) / len(values)


def replicas(data: Any, where: str) -> list[ReplicaState]:
    """The replicas in an ``az containerapp replica list`` answer (or the API's ``{"value": [...]}``,
    or one replica)."""
    if isinstance(data, Mapping) and isinstance(data.get("value"), list):
        data = data["value"]
    elif isinstance(data, Mapping) and "properties" in data:
        data = [data]
    if not isinstance(data, list):
        raise AzureDataError(f"{where}: expected the list `az containerapp replica list` prints")
    out = []
    for index, item in enumerate(data):
        label = f"{where}: replica {index + 1}"
        props = item.get("properties") if isinstance(item, Mapping) else None
        if not isinstance(props, Mapping):
            raise AzureDataError(f"{label} has no properties")
        name = str(item.get("name") or f"replica-{index + 1}")
        created = props.get("createdTime")
        containers = props.get("containers") or []
        if not isinstance(containers, list):
            raise AzureDataError(f"{label} ({name}): containers is not a list")
        out.append(ReplicaState(
            name=name,
            created=parse_time(created, f"{label} ({name}): createdTime") if created else None,
            running_state=props.get("runningState"),
            containers=[_container(c, f"{label} ({name})") for c in containers],
        ))
    return out


def _container(item: Any, where: str) -> ContainerState:
    if not isinstance(item, Mapping):
        raise AzureDataError(f"{where}: a container is not an object")
    name = str(item.get("name") or "?")
    count = item.get("restartCount")
    if isinstance(count, bool) or not isinstance(count, (int, float, str)):
        raise AzureDataError(f"{where}: container {name} has no restartCount")
    try:
        restarts = int(count)
    except ValueError:
        raise AzureDataError(f"{where}: container {name}: restartCount {count!r} is not a number") from None
    return ContainerState(name, restarts, item.get("runningState"), item.get("runningStateDetails") or None)
