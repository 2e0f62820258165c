"""Routing and the per-connection loop of a simulated host's HTTP server.

Routing follows xapi's HTTP server: a handler is chosen by method and **longest path prefix**
(so `/import/` reaches `/import` and `/export_raw_vdi/` reaches `/export_raw_vdi`, not
`/export`). A handler registered for `("POST", "/")` therefore catches every unclaimed POST path,
which is how XML-RPC answers on any path.

The loop never lets one connection's failure escape: protocol garbage gets an HTTP error, a
handler bug gets a 500 (and a log line), a vanished client just ends the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from xo.sim.errors import XapiFailure
from xo.sim.net.body import drain
from xo.sim.net.http import HttpConnection, HttpError, Request

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[None]]


class CloseConnection(Exception):
    """A handler asks for the connection to be dropped without any (further) answer."""


class Router:
    """Method + longest path prefix dispatch, as xapi's `Http_svr` does it."""

    def __init__(self) -> None:
        self._routes: dict[str, list[tuple[str, Handler]]] = {}

    def add(self, method: str, prefix: str, handler: Handler) -> None:
        routes = self._routes.setdefault(method.upper(), [])
        routes.append((prefix, handler))
        routes.sort(key=lambda route: len(route[0]), reverse=True)

    def resolve(self, method: str, path: str) -> Handler | None:
        for prefix, handler in self._routes.get(method.upper(), ()):
            if path.startswith(prefix):
                return handler
        return None


async def serve_http_connection(stream: trio.abc.Stream, router: Router) -> None:
    """Serve requests on `stream` until the client leaves or the connection cannot be reused."""
    connection = HttpConnection(stream)
    try:
        while True:
            try:
                request = await connection.next_request()
            except HttpError as exc:
                await connection.send_error(exc.status, exc.message, exc.headers)
                return
            if request is None:
                return
            if not await _dispatch(router, request):
                return
            if not connection.reusable:
                return
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return  # the client went away (or TLS broke): nothing to answer


async def _dispatch(router: Router, request: Request) -> bool:
    """Run the handler; False when the connection must be closed."""
    keep = await _run_handler(router, request)
    if not keep or not request.connection.reusable:
        if not request.detached:
            # Read (a bounded amount of) what the client is still sending, so that closing does
            # not reset the connection before it has read our answer.
            await drain(request)
        return False
    return True


async def _run_handler(router: Router, request: Request) -> bool:
    handler = router.resolve(request.method, request.path)
    connection = request.connection
    try:
        if handler is None:
            raise HttpError(404, f"no handler for {request.method} {request.path}")
        await handler(request)
        return True
    except HttpError as exc:
        if not request.responded:
            await connection.send_error(exc.status, exc.message, exc.headers)
        return False
    except CloseConnection:
        return False
    except XapiFailure as exc:
        # An API error outside any task (xapi's Http_svr turns it into an HTTP error).
        if not request.responded:
            status = 404 if exc.code in ("HANDLE_INVALID", "UUID_INVALID") else 500
            await connection.send_error(status, " ".join(exc.description))
        return False
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        raise
    except Exception as exc:
        # A bug in a handler must cost one request, never the host: log it and answer 500.
        log.exception("handler for %s %s failed", request.method, request.path)
        if not request.responded:
            await connection.send_error(500, f"internal error: {type(exc).__name__}")
        return False
