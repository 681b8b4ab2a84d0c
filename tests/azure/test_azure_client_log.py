"""Client log lines: the text form, the JSON form, and the errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure_testkit import at

from harness.backends.azure.errors import AzureDataError
from harness.importers.client_log import read_client_log


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "client.log"
    path.write_text(text)
    return path


def test_text_lines_with_statuses_errors_and_latency(tmp_path: Path) -> None:
    requests = read_client_log(write(tmp_path, "\n".join([
        "# comment",
        "",
        "2026-04-10T14:15:00Z POST /spike 503 8120ms upstream connect error",
        "2026-04-10T14:08:00Z post /start 202 41",
        "2026-04-10T14:16:00Z GET /health reset",
    ])))
    assert [(r.method, r.path, r.status, r.error, r.latency_ms) for r in requests] == [
        ("POST", "/start", 202, None, 41.0),
        ("POST", "/spike", 503, "5xx", 8120.0),
        ("GET", "/health", None, "reset", 0.0),
    ]
    assert requests[0].t == at("2026-04-10T14:08:00+00:00")


def test_json_lines_as_a_result_file_holds_them(tmp_path: Path) -> None:
    (request,) = read_client_log(write(tmp_path, '{"t": 1775830080.0, "step": "spike", "method": "POST", '
                                                 '"path": "/spike", "status": null, "error": "empty_reply", '
                                                 '"latency_ms": 812.5}\n'))
    assert (request.step, request.error, request.latency_ms, request.t) == ("spike", "empty_reply", 812.5, 1775830080.0)


@pytest.mark.parametrize(("line", "message"), [
    ("2026-04-10T14:08:00Z POST /start", "expected 'TIME METHOD PATH STATUS|ERROR [LATENCY_MS]'"),
    ("2026-04-10T14:08:00Z FETCH /start 200", "'FETCH' is not an HTTP method"),
    ("2026-04-10T14:08:00Z GET start 200", "path 'start' must start with '/'"),
    ("2026-04-10T14:08:00Z GET /start oops", "'oops' is neither an HTTP status nor one of reset"),
    ("soon GET /start 200", "'soon' is not a time"),
    ('{"t": 1}', "a JSON request needs t, method and path"),
])
def test_bad_lines_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "2026-04-10T14:08:00Z GET /health 200\n" + line + "\n")
    with pytest.raises(AzureDataError, match="line 2") as caught:
        read_client_log(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
