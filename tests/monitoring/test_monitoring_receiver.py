"""The webhook receiver, fed Alertmanager 0.25's real bodies over real HTTP."""

from __future__ import annotations

import httpx
from monitoring_inputs import webhook_bodies

from harness.evidence.alerts import notifications_from_webhook, parse_time
from harness.monitoring.receiver import WebhookReceiver


def test_recorded_bodies_become_one_record_per_alert() -> None:
    body = webhook_bodies("gradual-alerts")[0]
    (alert,) = notifications_from_webhook(body, received_t=1.0)
    assert alert.status == "firing"
    assert alert.rule == body["alerts"][0]["labels"]["alertname"]
    assert alert.starts_at == parse_time(body["alerts"][0]["startsAt"])
    assert alert.ends_at is None  # Go's zero time: still firing
    assert alert.fingerprint == body["alerts"][0]["fingerprint"]


def test_rfc3339_times_with_nanoseconds() -> None:
    assert parse_time("2026-12-06T01:31:47.917Z") == parse_time("2026-12-06T01:31:47.917000000Z")
    assert parse_time("2026-12-06T01:31:47.123456789+00:00") == 1796520707.123456
    assert parse_time("0001-01-01T00:00:00Z") is None


def test_the_receiver_keeps_what_arrives_and_refuses_what_it_cannot_read() -> None:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        for body in webhook_bodies("pid1-oom-alerts"):
            assert httpx.post(receiver.url, json=body).status_code == 200
        assert receiver.status().available
        rules = {n.rule for n in receiver.snapshot()}
        assert {"ContainerOomEvent", "NodeOomKill", "KubernetesContainerOomKiller"} <= rules
        assert httpx.post(receiver.url, content=b"{not json").status_code == 400
        assert not receiver.status().available
        assert "could not be read" in (receiver.status().reason or "")
    finally:
        receiver.stop()
        receiver.stop()  # idempotent
