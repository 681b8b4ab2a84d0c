"""A user's own app, not the lab's: a bare ASGI app that keeps 32 MiB per request.

It stands for any service whose memory grows with its traffic (a cache with no bound, a
list that is never emptied). ``GET /health`` answers ``ok``; every other request keeps
another 32 MiB, all pages written so the memory is really resident, and says how much
this worker process now holds. Standard library only: it runs under any ASGI server.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

KEEP_BYTES = 32 * 1024 * 1024
PAGE = 4096

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

kept: list[bytearray] = []


def keep() -> int:
    """Keep one more block for the life of this process; the MiB now kept."""
    block = bytearray(KEEP_BYTES)
    block[::PAGE] = b"\x01" * len(range(0, KEEP_BYTES, PAGE))
    kept.append(block)
    return len(kept) * KEEP_BYTES // (1024 * 1024)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point: lifespan events are acknowledged, HTTP requests answered."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/health":
        body = b"ok\n"
    else:
        body = f"kept {keep()} MiB in pid {os.getpid()}\n".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
