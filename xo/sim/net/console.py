"""`CONNECT /console` (reference xapi.md §5, xapi `console.ml`): a VM's VNC console.

`ref=` or `uuid=` names a console or a VM (its rfb console); the session comes from the cookie,
the query or HTTP Basic. The VM must be Running and resident on *this* host. Then the exact
reply `HTTP/1.1 200 OK\\r\\nConnection: keep-alive\\r\\nCache-Control: no-cache, no-store\\r\\n\\r\\n`
and raw RFB in both directions, served by `xo.sim.console_rfb` over the VM's shared text screen.
Like xapi, the connection runs inside a task ("Connection to VM console") completed at the end.
`GET /console` with `Upgrade: websocket` is the WebSocket variant (`xo.sim.console_websocket`).
"""

from __future__ import annotations

from typing import Any

from xo.sim.console_rfb import serve_rfb
from xo.sim.console_session import ConsoleSessions
from xo.sim.console_websocket import WebSocketByteStream, upgrade_headers
from xo.sim.errors import XapiFailure
from xo.sim.net.http import HttpError, Request, format_head
from xo.sim.net.transfer import Transfer, lookup_param

CONNECT_REPLY = (
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nCache-Control: no-cache, no-store\r\n\r\n"
)


class ConsoleEndpoint:
    """The console handlers of one host; sessions are shared by the hosts of a pool."""

    def __init__(self, pool: Any, host_ref: str, sessions: ConsoleSessions) -> None:
        self._pool = pool
        self._host_ref = host_ref
        self._sessions = sessions

    async def connect(self, request: Request) -> None:
        """CONNECT: the exact xapi reply, then raw RFB."""
        await self._serve(request, websocket=False)

    async def websocket(self, request: Request) -> None:
        """GET with `Upgrade: websocket`: 101 then RFB in binary frames."""
        if "websocket" not in request.headers.get("upgrade", "").lower():
            raise HttpError(400, "the console is reached with CONNECT or a WebSocket upgrade")
        if not request.headers.get("sec-websocket-key"):
            raise HttpError(400, "missing Sec-WebSocket-Key")
        await self._serve(request, websocket=True)

    async def _serve(self, request: Request, *, websocket: bool) -> None:
        label = "Connection to VM console"
        async with Transfer(self._pool, self._host_ref, request, label) as transfer:
            console_ref = self._console_of(request)
            console = self._pool.db.get("console", console_ref)
            vm = self._pool.db.get("VM", console["VM"])
            if vm["power_state"] != "Running" or vm["resident_on"] != self._host_ref:
                raise HttpError(
                    404, f"VM {console['VM']} is not running on this host", transfer.headers
                )
            session = self._sessions.get(
                console_ref, vm["name_label"], live_consoles=set(self._pool.db.all("console"))
            )
            stream, initial = request.detach()
            if websocket:
                headers = upgrade_headers(
                    request.headers["sec-websocket-key"],
                    request.headers.get("sec-websocket-protocol", ""),
                )
                await stream.send_all(format_head("HTTP/1.1 101 Switching Protocols", headers))
                await serve_rfb(WebSocketByteStream(stream, initial), b"", session)
            else:
                await stream.send_all(CONNECT_REPLY)
                await serve_rfb(stream, initial, session)
            transfer.succeed("")

    def _console_of(self, request: Request) -> str:
        """The console named by `ref`/`uuid`: a console directly, or a VM's rfb console."""
        db = self._pool.db
        uuid = lookup_param(request, "uuid")
        ref = lookup_param(request, "ref")
        if uuid:
            ref = db.find_by_uuid("VM", uuid) or db.find_by_uuid("console", uuid)
            if ref is None:
                raise XapiFailure("UUID_INVALID", "console", uuid)
        if not ref:
            raise HttpError(400, "console requests need a ref or uuid parameter")
        if db.exists("console", ref):
            return ref
        if db.exists("VM", ref):
            for console_ref in db.get("VM", ref)["consoles"]:
                if db.get("console", console_ref)["protocol"] == "rfb":
                    return console_ref
            raise HttpError(404, f"VM {ref} has no VNC console")
        raise XapiFailure("HANDLE_INVALID", "console", ref)
