"""Record what a real monitoring stack says during a shipped ``*-alerts`` scenario: every
Alertmanager webhook body as it arrived, Prometheus's first answer to each API call the
harness makes, and the run's result.json.

    .venv/bin/python tests/data/recorded/record_monitoring.py gradual-alerts pid1-oom-alerts

Writes ``monitoring/<scenario>/{webhook_bodies.json, prometheus_answers.json, result.json}``
beside this file (as root, with the engine running and ``harness setup`` done).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def record(scenario: str) -> int:
    from harness.cli import main
    from harness.monitoring import prometheus, receiver

    bodies: list[Any] = []
    answers: dict[str, Any] = {}
    answer = receiver.WebhookReceiver._answer
    get = prometheus.PrometheusApi._get

    def keep_body(self: receiver.WebhookReceiver, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if method == "POST":
            bodies.append(json.loads(body))
        return answer(self, method, path, body)

    def keep_answer(self: prometheus.PrometheusApi, path: str, params: Any = None) -> Any:
        raw = self._client.get(f"{self.base_url}{path}", params=params).json()
        query = f" {params['query']}" if params and "query" in params else ""
        answers.setdefault(f"{path}{query}", raw)
        return get(self, path, params)

    receiver.WebhookReceiver._answer = keep_body  # type: ignore[method-assign]
    prometheus.PrometheusApi._get = keep_answer  # type: ignore[method-assign]
    out = HERE / "monitoring" / scenario
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        code = main(["run", scenario, "--out", tmp, "--quiet"])
        shutil.copy(Path(tmp) / "result.json", out / "result.json")
    (out / "webhook_bodies.json").write_text(json.dumps(bodies, indent=1) + "\n")
    (out / "prometheus_answers.json").write_text(json.dumps(answers, indent=1) + "\n")
    receiver.WebhookReceiver._answer = answer  # type: ignore[method-assign]
    prometheus.PrometheusApi._get = get  # type: ignore[method-assign]
    return code


if __name__ == "__main__":
    sys.exit(max(record(name) for name in sys.argv[1:] or ["gradual-alerts", "pid1-oom-alerts"]))
