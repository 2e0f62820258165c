"""One simulated host on the network: its listener, its routes, its long-poll calls.

Routes (method + longest prefix, reference xapi.md §1.1 and §5):

| method  | prefix               | handler                                      |
|---------|----------------------|----------------------------------------------|
| POST    | `/` (any other path) | XML-RPC                                      |
| POST    | `/jsonrpc`           | JSON-RPC v1/v2                               |
| OPTIONS | `/`                  | CORS preflight                               |
| GET     | `/export`            | XVA export                                   |
| PUT     | `/import`            | XVA import                                   |
| GET     | `/export_raw_vdi`    | raw / VHD disk export                        |
| PUT     | `/import_raw_vdi`    | raw / VHD disk import                        |
| CONNECT | `/console`           | RFB console                                  |
| GET     | `/console`           | RFB console over WebSocket (Upgrade)         |
| PUT     | `/pool_patch_upload` | legacy patch upload                          |
| POST    | `/sim/fault`         | fault injection (simulator only, JSON)       |
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from xo.sim.console_session import ConsoleSessions
from xo.sim.net.addresses import netloc
from xo.sim.net.console import ConsoleEndpoint
from xo.sim.net.export import handle_export
from xo.sim.net.fault_endpoint import FaultEndpoint
from xo.sim.net.import_xva import handle_import
from xo.sim.net.listener import RestartableListener
from xo.sim.net.patch_upload import handle_pool_patch_upload
from xo.sim.net.raw_vdi import handle_export_raw_vdi, handle_import_raw_vdi
from xo.sim.net.rpc import LongPollCalls, RpcEndpoints
from xo.sim.net.server import Router, serve_http_connection

FaultAction = Callable[[dict, list[Callable[[], Awaitable[None]]]], Awaitable[dict]]


class HostServer:
    """The HTTP(S) server of one host of a pool; `run()` inside a nursery you own."""

    def __init__(
        self,
        pool: Any,
        host_ref: str,
        *,
        bind: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        fault_action: FaultAction | None = None,
        consoles: ConsoleSessions | None = None,
        own_ip: bool = False,
        prebound: list[trio.SocketListener] | None = None,
    ) -> None:
        """`own_ip`: `bind` is this host's own IP (the port is shared with the other hosts), so
        its `address` is the bare IP as on a real host; otherwise `ip:port`."""
        self.pool = pool
        self.host_ref = host_ref
        self.bind = bind
        self.own_ip = own_ip
        self.scheme = "https" if ssl_context is not None else "http"
        self.long_polls = LongPollCalls()
        self.consoles = consoles if consoles is not None else ConsoleSessions()
        self.router = self._make_router(fault_action)
        self.listener = RestartableListener(
            self._serve, host=bind, port=port, ssl_context=ssl_context, prebound=prebound
        )

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def address(self) -> str:
        """What the host record's `address` holds: the bare IP, or `ip:port` (no own IP)."""
        return self.bind if self.own_ip else self.netloc

    @property
    def netloc(self) -> str:
        """`ip:port` where this host listens."""
        return netloc(self.bind, self.port)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        await self.listener.run(task_status=task_status)

    async def stop(self) -> None:
        await self.listener.stop()

    async def start(self) -> None:
        await self.listener.start()

    def cut_long_polls(self) -> int:
        return self.long_polls.cut_all()

    async def _serve(self, stream: trio.abc.Stream) -> None:
        await serve_http_connection(stream, self.router)

    def _make_router(self, fault_action: FaultAction | None) -> Router:
        pool, host = self.pool, self.host_ref
        rpc = RpcEndpoints(pool, host, self.long_polls)
        router = Router()
        router.add("POST", "/", rpc.xmlrpc)
        router.add("POST", "/jsonrpc", rpc.jsonrpc)
        router.add("OPTIONS", "/", rpc.options)

        def bind(handler: Callable[..., Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
            return lambda request: handler(pool, host, request)

        router.add("GET", "/export", bind(handle_export))
        router.add("PUT", "/import", bind(handle_import))
        router.add("GET", "/export_raw_vdi", bind(handle_export_raw_vdi))
        router.add("PUT", "/import_raw_vdi", bind(handle_import_raw_vdi))
        console = ConsoleEndpoint(pool, host, self.consoles)
        router.add("CONNECT", "/console", console.connect)
        router.add("GET", "/console", console.websocket)
        router.add("PUT", "/pool_patch_upload", bind(handle_pool_patch_upload))
        if fault_action is not None:
            endpoint = FaultEndpoint(fault_action)
            router.add("POST", "/sim/fault", endpoint.handle)
            router.add("GET", "/sim/fault", endpoint.handle)
        return router
