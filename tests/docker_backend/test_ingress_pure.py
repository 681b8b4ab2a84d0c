"""The ingress's pure parts: the HAProxy configuration a scenario gives, the archive that
carries it into the container, and the image's cache key."""

from __future__ import annotations

from harness.backends.docker.ingress import (
    READY_PATH,
    dockerfile_digest,
    haproxy_config,
)
from harness.scenario.model import Ingress


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_retries_and_conditions_go_to_the_backend() -> None:
    config = haproxy_config(Ingress(retries=5, retry_on=["conn-failure", "empty-response"]), "app", 8080)
    lines = _lines(config)
    assert "retries 5" in lines
    assert "option http-buffer-request" in lines
    assert "retry-on conn-failure empty-response" in lines
    assert "server app app:8080 resolvers docker init-addr libc,none" in lines


def test_retries_off_also_turns_retry_conditions_off() -> None:
    lines = _lines(haproxy_config(Ingress(retries=0, retry_on=["empty-response"]), "app", 8080))
    assert "retries 0" in lines
    assert "retry-on none" in lines


def test_timeouts_are_written_in_milliseconds() -> None:
    lines = _lines(haproxy_config(Ingress(timeout_connect=0.25, timeout_server=90, timeout_client=2.5), "app", 9000))
    assert {"timeout connect 250ms", "timeout server 90000ms", "timeout client 2500ms"} <= set(lines)
    assert "server app app:9000 resolvers docker init-addr libc,none" in lines


def test_the_access_log_carries_the_request_id_and_the_retry_count() -> None:
    config = haproxy_config(Ingress(), "app", 8080)
    assert "capture request header X-Request-Id len 64" in config
    log_format = next(line for line in _lines(config) if line.startswith("log-format"))
    assert "id=%[capture.req.hdr(0)]" in log_format and "retries=%rc" in log_format and "term=%tsc" in log_format
    assert "log stdout format raw local0" in config


def test_the_ready_path_is_answered_by_the_proxy_and_not_logged() -> None:
    lines = _lines(haproxy_config(Ingress(), "app", 8080))
    assert f"acl ready_check path {READY_PATH}" in lines
    assert "http-request set-log-level silent if ready_check" in lines
    assert "http-request return status 200 if ready_check" in lines


def test_the_image_cache_key_follows_the_base() -> None:
    assert dockerfile_digest("python:3.11-slim") == dockerfile_digest("python:3.11-slim")
    assert dockerfile_digest("python:3.11-slim") != dockerfile_digest("oom-harness/base:bookworm-py311")


def test_a_small_image_context_holds_its_files_at_the_top() -> None:
    import tarfile

    from harness.backends.docker.image import _tar_context

    with tarfile.open(fileobj=_tar_context({"Dockerfile": b"FROM x\n", "ryuk.py": b"print()\n"}), mode="r") as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == {  # type: ignore[union-attr]
            "Dockerfile": b"FROM x\n", "ryuk.py": b"print()\n"}
