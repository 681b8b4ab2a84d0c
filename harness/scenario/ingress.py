"""The optional reverse proxy in front of the app: HAProxy's retries and time-outs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StrictInt,
)

from harness.scenario.fields import FrozenModel, Timeout
from harness.scenario.units import quote_value

# ---------------------------------------------------------------------------------------
# Ingress

# HAProxy's ``retry-on`` keywords that make sense in front of the lab app; a status code
# retries when the server answered with it.
RETRY_ON: tuple[str, ...] = (
    "conn-failure", "empty-response", "junk-response", "response-timeout",
    "500", "502", "503", "504", "all-retryable-errors",
)
RetryOn = Literal[
    "conn-failure", "empty-response", "junk-response", "response-timeout",
    "500", "502", "503", "504", "all-retryable-errors",
]


# Words users reach for that HAProxy spells differently.
_RETRY_HINTS = {
    "reset": 'a reset before any answer is "empty-response", a reset mid-answer "junk-response"',
    "connect-failure": 'HAProxy calls it "conn-failure"',
    "timeout": 'HAProxy calls it "response-timeout"',
    "5xx": 'list the codes: "500", "502", "503", "504"',
}


def _retry_on_form(value: Any) -> Any:
    """``retry_on: empty-response`` is one item; status codes may be written as numbers."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if text not in RETRY_ON:
            hint = _RETRY_HINTS.get(str(text), f"expected one of: {', '.join(RETRY_ON)}")
            raise ValueError(f"{quote_value(item)} is not a retry condition ({hint})")
        out.append(text)
    if not out:
        raise ValueError("give at least one retry condition")
    return list(dict.fromkeys(out))


class Ingress(FrozenModel):
    """A reverse proxy in front of the app, as a platform's ingress is (Envoy on Container
    Apps): the client's requests go through it, the health probe goes straight to the app.

    ``retries`` is how many more times the proxy sends a request after the first attempt
    failed in one of the ``retry_on`` ways (HAProxy's keywords: ``conn-failure`` -- no
    connection; ``empty-response`` -- the server closed or reset the connection before
    answering, which is what an OOM-killed worker does; ``junk-response`` -- a cut-off
    answer; ``response-timeout`` -- no answer within ``timeout_server``; or a status code).
    ``retries: 0`` turns retrying off.
    """

    kind: Literal["haproxy"] = "haproxy"
    retries: Annotated[StrictInt, Field(ge=0, le=20)] = 0
    retry_on: Annotated[list[RetryOn], BeforeValidator(_retry_on_form)] = ["conn-failure"]
    timeout_connect: Timeout = 5.0
    timeout_server: Timeout = 60.0
    timeout_client: Timeout = 60.0


