"""Reading upload bodies the way xapi's PUT handlers do.

xapi needs a Content-Length and refuses `Transfer-Encoding` (clients must not chunk), answers
200 before reading, and stops as soon as the payload it parses is complete. XO announces a 1 PiB
Content-Length when it does not know the size and closes the socket after the data: once the
payload is complete, a short body is not an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import trio

from xo.sim.net.http import HttpError, Request

# After the payload is complete, keep reading (and discarding) what the client still sends for
# this long, so it does not get a connection reset while finishing its upload (tar padding...).
DRAIN_TIMEOUT = 5.0
# ...and at most this much: a client that keeps streaming garbage after the end is cut off.
DRAIN_LIMIT = 16 << 20


class BodyTruncated(Exception):
    """The client closed the connection (or sent a malformed body) before the payload's end."""


def is_chunked(request: Request) -> bool:
    return "chunked" in request.headers.get("transfer-encoding", "").lower()


async def iter_body(request: Request) -> AsyncIterator[bytes]:
    """The body chunks; raises BodyTruncated when the connection ends before Content-Length."""
    while True:
        try:
            chunk = await request.receive_body()
        except (HttpError, trio.BrokenResourceError) as exc:
            raise BodyTruncated(str(exc)) from exc
        if not chunk:
            return
        yield chunk


async def drain(request: Request) -> None:
    """Discard the rest of the body (bounded in time and size); never raises for a short body."""
    drained = 0
    with trio.move_on_after(DRAIN_TIMEOUT):
        try:
            while drained < DRAIN_LIMIT:
                chunk = await request.receive_body()
                if not chunk:
                    return
                drained += len(chunk)
        except (HttpError, trio.BrokenResourceError, trio.ClosedResourceError):
            return
