"""Hold the calling thread inside one C call for a given time.

A worker stuck in C code runs no Python: no heartbeat, and no Python-level signal handler
(gunicorn's SIGABRT handler among them) until the call returns. That is what makes a
server's own timeout escalate to SIGKILL, the case where gunicorn logs "Perhaps out of
memory?" although memory never ran out. PBKDF2 is used because its cost is one number
(the rounds), it allocates nothing, and CPython runs all the rounds in one call.
"""

from __future__ import annotations

import hashlib
import time

#: Rounds of the calibration call that measures this CPU's (and this CPU quota's) speed.
CALIBRATION_ROUNDS = 20_000
#: CPython refuses more rounds than a C int holds.
MAX_ROUNDS = 2**31 - 1
_DIGEST = "sha256"
_PASSWORD = b"oom-harness"
_SALT = b"lab-block"


def seconds_per_round(rounds: int = CALIBRATION_ROUNDS) -> float:
    """How long one PBKDF2 round takes here, measured on ``rounds`` of them."""
    started = time.perf_counter()
    hashlib.pbkdf2_hmac(_DIGEST, _PASSWORD, _SALT, rounds)
    return max((time.perf_counter() - started) / rounds, 1e-9)


def rounds_for(seconds: float, per_round: float) -> int:
    """The rounds that take about ``seconds`` at ``per_round`` seconds each (at least 1)."""
    return max(1, min(MAX_ROUNDS, int(seconds / per_round)))


def block(rounds: int) -> None:
    """Run ``rounds`` PBKDF2 rounds in one call: the thread stays in C until it returns."""
    hashlib.pbkdf2_hmac(_DIGEST, _PASSWORD, _SALT, rounds)
