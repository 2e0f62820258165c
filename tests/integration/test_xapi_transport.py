"""HttpTransport over real sockets on 127.0.0.1: keep-alive, stale connections, streaming bodies
both ways, CONNECT tunnels, TLS with and without allow_unauthorized, connect timeouts.

The peer is a small h11 server written here, so each transport behaviour is provoked on purpose
(closing idle connections, close-delimited bodies...). The same client against the simulator is
in test_xapi_client_sim.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import h11
import pytest
import trio

from xo.sim.net.tls import server_ssl_context
from xo.xapi import HttpTransport, Origin, Request, Timeouts, XapiTimeout, XapiUnreachable

Handler = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request seen by the test server, and the means to answer it."""

    conn: h11.Connection
    stream: trio.abc.Stream
    request: h11.Request
    body: bytes = b""

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            await self.stream.send_all(data)

    async def reply(self, status: int, body: bytes = b"", headers: list | None = None) -> None:
        headers = [("Content-Length", str(len(body))), *(headers or [])]
        await self.send(h11.Response(status_code=status, headers=headers))
        await self.send(h11.Data(data=body))
        await self.send(h11.EndOfMessage())


@dataclass
class PeerServer:
    handler: Handler
    connections: int = 0
    requests: list[Exchange] = field(default_factory=list)
    close_after_each: bool = False
    port: int = 0

    async def serve_one(self, stream: trio.abc.Stream) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
                if not isinstance(event, h11.Request):
                    raise AssertionError(event)
                exchange = Exchange(conn, stream, event)
                if event.method != b"CONNECT":
                    while True:
                        event = conn.next_event()
                        if event is h11.NEED_DATA:
                            conn.receive_data(await stream.receive_some(65536))
                        elif isinstance(event, h11.Data):
                            exchange.body += event.data
                        else:
                            break
                self.requests.append(exchange)
                await self.handler(exchange)
                if event is not None and getattr(exchange.request, "method", b"") == b"CONNECT":
                    return
                if self.close_after_each or conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, h11.RemoteProtocolError):
            return
        finally:
            await trio.aclose_forcefully(stream)


async def start_server(nursery: trio.Nursery, handler: Handler, *, tls: bool = False) -> PeerServer:
    server = PeerServer(handler)

    async def on_connection(stream: trio.abc.Stream) -> None:
        if tls:
            stream = trio.SSLStream(stream, server_ssl_context(), server_side=True)
        await server.serve_one(stream)

    serve = partial(trio.serve_tcp, on_connection, 0, host="127.0.0.1")
    listeners = await nursery.start(serve)
    server.port = listeners[0].socket.getsockname()[1]
    return server


async def echo(exchange: Exchange) -> None:
    await exchange.reply(200, b"echo:" + exchange.body, [("content-type", "text/plain")])


async def test_keep_alive_reuses_one_connection(nursery):
    server = await start_server(nursery, echo)
    transport = HttpTransport()
    origin = Origin("http", "127.0.0.1", server.port)
    for i in range(5):
        response = await transport.request(Request("POST", origin, "/", [], b"%d" % i))
        assert await response.aread() == b"echo:%d" % i
    assert server.connections == 1
    assert server.requests[0].request.headers  # Host etc. sent
    await transport.aclose()


async def test_a_connection_closed_by_the_host_while_idle_is_replaced(nursery):
    server = await start_server(nursery, echo)
    server.close_after_each = True  # the host closes every connection after its answer
    transport = HttpTransport()
    origin = Origin("http", "127.0.0.1", server.port)
    for _ in range(3):
        response = await transport.request(Request("POST", origin, "/", [], b"x"))
        assert await response.aread() == b"echo:x"
        await trio.testing.wait_all_tasks_blocked()
    assert server.connections == 3
    await transport.aclose()


async def test_streamed_put_and_close_delimited_get(nursery):
    async def handler(exchange: Exchange) -> None:
        if exchange.request.method == b"PUT":
            await exchange.reply(200, b"%d" % len(exchange.body))
            return
        # like xapi's /export: HTTP/1.0, no Content-Length, body until close
        exchange.conn.our_state  # noqa: B018
        await exchange.stream.send_all(
            b"HTTP/1.0 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n"
        )
        for _ in range(4):
            await exchange.stream.send_all(b"z" * 100_000)
        await exchange.stream.aclose()

    server = await start_server(nursery, handler)
    transport = HttpTransport()
    origin = Origin("http", "127.0.0.1", server.port)

    async def body():
        for _ in range(10):
            yield b"a" * 300_000

    response = await transport.request(Request("PUT", origin, "/import", [], body(), 3_000_000))
    assert await response.aread() == b"3000000"
    response = await transport.request(Request("GET", origin, "/export", []))
    sizes = [len(chunk) async for chunk in response]
    assert sum(sizes) == 400_000
    assert max(sizes) <= 256 * 1024  # bounded chunks, no whole-body buffering
    await transport.aclose()


async def test_connect_tunnel_carries_bytes_both_ways(nursery):
    async def handler(exchange: Exchange) -> None:
        assert exchange.request.target == b"/console?uuid=u"
        await exchange.stream.send_all(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nRFB 003.008\n"
        )
        data = await exchange.stream.receive_some(100)
        await exchange.stream.send_all(b"got " + data)

    server = await start_server(nursery, handler)
    transport = HttpTransport()
    response = await transport.connect(
        Origin("http", "127.0.0.1", server.port), "/console?uuid=u", []
    )
    assert response.status == 200
    tunnel = response.tunnel
    assert tunnel is not None
    assert await tunnel.receive_some(100) == b"RFB 003.008\n"
    await tunnel.send_all(b"hello")
    assert await tunnel.receive_some(100) == b"got hello"
    await tunnel.aclose()


async def test_tls_self_signed_needs_allow_unauthorized(nursery):
    server = await start_server(nursery, echo, tls=True)
    origin = Origin("https", "127.0.0.1", server.port)
    strict = HttpTransport(allow_unauthorized=False)
    with pytest.raises(XapiUnreachable) as info:
        await strict.request(Request("POST", origin, "/", [], b"x"))
    assert "certificate" in str(info.value).lower()
    relaxed = HttpTransport(allow_unauthorized=True)
    response = await relaxed.request(Request("POST", origin, "/", [], b"x"))
    assert await response.aread() == b"echo:x"
    await relaxed.aclose()


async def test_refused_and_connect_timeout():
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        transport = HttpTransport()
        with pytest.raises(XapiUnreachable) as info:
            await transport.request(
                Request("POST", Origin("http", "127.0.0.1", port), "/", [], b"")
            )
        assert "refused" in str(info.value)
    # a peer that accepts TCP but never finishes the TLS handshake: the connect phase times out
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        transport = HttpTransport(timeouts=Timeouts(connect=0.3))
        with pytest.raises(XapiTimeout):
            await transport.request(
                Request("POST", Origin("https", "127.0.0.1", port), "/", [], b"")
            )


async def test_an_upload_refused_early_gives_the_hosts_answer(nursery):
    async def refuse(stream: trio.SocketStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(65536)
        await stream.send_all(
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        await stream.send_eof()
        with trio.move_on_after(0.05):  # drain a little, then close with data unread
            while await stream.receive_some(65536):
                pass
        await stream.aclose()

    listeners = await nursery.start(partial(trio.serve_tcp, refuse, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]

    async def body():
        for _ in range(400):
            yield b"x" * 256 * 1024

    transport = HttpTransport()
    origin = Origin("http", "127.0.0.1", port)
    response = await transport.request(
        Request("PUT", origin, "/import", [], body(), 400 * 256 * 1024)
    )
    assert response.status == 403
    await response.aclose()
