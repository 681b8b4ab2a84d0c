"""Reading what Azure prints: log rows, metric series, replicas, and the errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure_testkit import at

from harness.backends.azure import exported
from harness.backends.azure.errors import AzureDataError
from harness.errors import HarnessError


def test_cli_rows_are_read_in_time_order(seed_dir: Path) -> None:
    rows = exported.log_rows(exported.load_json(seed_dir / "console_logs.json"), "console")
    assert len(rows) == 9
    assert [r.t for r in rows] == sorted(r.t for r in rows)
    assert rows[0].t == pytest.approx(at("2026-04-10T14:08:14.502+00:00"))
    assert "Worker (pid:7) was sent SIGKILL!" in rows[0].get("Log_s")


def test_the_query_apis_own_table_shape_is_read_too() -> None:
    data = {"tables": [{"name": "PrimaryResult",
                        "columns": [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Log", "type": "string"}],
                        "rows": [["2026-04-10T14:08:14.1234567Z", "hello"]]}]}
    (row,) = exported.log_rows(data, "api")
    assert row.get("Log_s", "Log") == "hello"
    assert row.t == pytest.approx(at("2026-04-10T14:08:14.123456+00:00"))


@pytest.mark.parametrize("stamp", ["2026-04-10T14:08:00Z", "2026-04-10T14:08:00+00:00",
                                   "2026-04-10 14:08:00+00:00", "2026-04-10T14:08:00.0000000Z"])
def test_times_in_every_form_azure_prints(stamp: str) -> None:
    assert exported.parse_time(stamp, "x") == at("2026-04-10T14:08:00+00:00")


def test_metric_series_keep_minutes_with_data_and_the_interval(seed_dir: Path) -> None:
    series = exported.metric_series(exported.load_json(seed_dir / "working_set.json"), "WorkingSetBytes", "ws")
    assert series.unit == "Bytes" and series.interval_s == 60
    assert len(series.points) == 30
    averages = series.values("average")
    assert [round(v / 2**20, 1) for _, v in averages] == [202.9, 33.9, 33.9, 33.9, 33.9, 33.9, 34.0, 113.8, 35.0]
    assert averages[0][0] == at("2026-04-10T14:08:00+00:00")


def test_several_timeseries_are_merged_per_minute() -> None:
    data = {"interval": "0:01:00", "value": [{"name": {"value": "RestartCount"}, "timeseries": [
        {"data": [{"timeStamp": "2026-04-10T14:10:00+00:00", "maximum": 1.0, "total": 1.0}]},
        {"data": [{"timeStamp": "2026-04-10T14:10:00+00:00", "maximum": 3.0, "total": 2.0}]},
    ]}]}
    series = exported.metric_series(data, "restartcount", "rc")
    assert series.interval_s == 60
    assert series.points[0].values == {"maximum": 3.0, "total": 3.0}


def test_replicas_in_cli_api_and_single_forms(seed_dir: Path) -> None:
    listed = exported.load_json(seed_dir / "replicas.json")
    for data in (listed, {"value": listed}, listed[0]):
        (replica,) = exported.replicas(data, "replicas")
        assert replica.restart_count == 0 and replica.running_state == "Running"
        assert replica.created == at("2026-04-10T14:06:53+00:00")


@pytest.mark.parametrize(("data", "message"), [
    ({"rows": []}, "expected the list of rows"),
    ([{"Log_s": "x"}], "row 1 has no TimeGenerated column"),
    ([{"TimeGenerated": "yesterday"}], "'yesterday' is not a time"),
])
def test_bad_log_rows_name_the_input_and_the_problem(data: object, message: str) -> None:
    with pytest.raises(AzureDataError, match=message) as caught:
        exported.log_rows(data, "system.json")
    assert str(caught.value).startswith("system.json")
    assert isinstance(caught.value, HarnessError) and caught.value.exit_code == 2


def test_a_missing_metric_lists_the_ones_present(seed_dir: Path) -> None:
    with pytest.raises(AzureDataError, match=r"no WorkingSetBytes metric in it \(metrics found: RestartCount\)"):
        exported.metric_series(exported.load_json(seed_dir / "restart_count.json"), "WorkingSetBytes", "rc.json")


def test_a_replica_without_restart_count_is_an_error() -> None:
    with pytest.raises(AzureDataError, match="container lab has no restartCount"):
        exported.replicas([{"name": "r", "properties": {"containers": [{"name": "lab"}]}}], "replicas.json")


def test_files_that_are_missing_or_not_json(tmp_path: Path) -> None:
    with pytest.raises(AzureDataError, match="no such file"):
        exported.load_json(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"TimeGenerated": }]')
    with pytest.raises(AzureDataError, match=r"broken.json: not JSON \(line 1, column 20: Expecting value"):
        exported.load_json(broken)


def test_a_bom_written_by_az_on_windows_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([]).encode())
    assert exported.load_json(path) == []
