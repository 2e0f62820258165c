"""`HttpTransport`: HTTP/1.1 over Trio sockets (plain or TLS) with h11 and keep-alive pools.

One pool of idle connections per origin. A connection is used by one request at a time and goes
back to the pool only when both sides finished the message cleanly; anything else (cancellation,
error, body not read to its end) closes it. A request that fails on a *reused* connection before
any byte of the answer arrived is retried once on a new connection: the host most likely closed
the idle connection while we were about to use it, so the request was never processed.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable

import h11
import trio

from .errors import XapiException, XapiUnreachable, translate_transport_error
from .origin import Origin
from .timeouts import DEFAULT_TIMEOUTS, Timeouts
from .transport import Request, Response, Transport

# Bytes asked from the socket per read: large enough that a 100 MB get_all_records reply is not
# thousands of tiny reads, small enough to bound memory per connection.
RECEIVE_SIZE = 256 * 1024
# Idle connections kept per host: matches the RPC concurrency limit (xen-api allows 20 calls in
# flight per pool), so a burst of calls finds a warm connection for each.
MAX_IDLE_PER_ORIGIN = 20
# Request body chunks are cut to this size before h11 framing, so one huge chunk from a producer
# never becomes one huge socket write.
MAX_SEND_CHUNK = 1 << 20
USER_AGENT = "xo-server-py"
# How long to look for an answer already sent by a host that broke an upload off.
EARLY_ANSWER_GRACE = 1.0


def make_ssl_context(allow_unauthorized: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if allow_unauthorized:
        # Self-signed host certificates are the norm on XenServer/XCP-ng (XO's allowUnauthorized).
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Connection:
    def __init__(self, stream: trio.abc.Stream, origin: Origin, idle_timeout: float | None) -> None:
        self.stream = stream
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_timeout = idle_timeout
        self.reused = False
        self.received_any = False

    async def send(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            await self.stream.send_all(data)

    async def next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            with trio.fail_after(self.idle_timeout or float("inf")):
                data = await self.stream.receive_some(RECEIVE_SIZE)
            if data:
                self.received_any = True
            self.h11.receive_data(data)  # type: ignore[arg-type]  # bytearray is fine

    def reusable(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


class _BodyReader:
    """Async iterator over a response body; returns the connection to its pool at the end."""

    def __init__(self, transport: HttpTransport, conn: _Connection) -> None:
        self._transport = transport
        self._conn: _Connection | None = conn

    def __aiter__(self) -> _BodyReader:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        try:
            event = await conn.next_event()
        except BaseException as exc:
            await self.aclose()
            if isinstance(exc, Exception) and not isinstance(exc, XapiException):
                raise translate_transport_error(exc, conn.origin.netloc) from exc
            raise
        if isinstance(event, h11.Data):
            return bytes(event.data)
        self._conn = None
        if isinstance(event, h11.EndOfMessage):
            self._transport._release(conn)
        else:
            await conn.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.aclose()


class _TunnelStream(trio.abc.Stream):
    """The socket after a successful CONNECT, replaying bytes h11 had already buffered."""

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._stream.aclose()


class HttpTransport(Transport):
    def __init__(
        self,
        *,
        allow_unauthorized: bool = False,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeouts = timeouts
        self._ssl_context = ssl_context or make_ssl_context(allow_unauthorized)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    async def _open(self, origin: Origin) -> _Connection:
        try:
            with trio.fail_after(self.timeouts.connect or float("inf")):
                stream: trio.abc.Stream = await trio.open_tcp_stream(origin.host, origin.port)
                if origin.scheme == "https":
                    tls = trio.SSLStream(
                        stream,
                        self._ssl_context,
                        server_hostname=origin.host,
                        https_compatible=True,
                    )
                    try:
                        await tls.do_handshake()
                    except BaseException:
                        await trio.aclose_forcefully(stream)
                        raise
                    stream = tls
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, ssl.SSLError) as exc:
            raise translate_transport_error(exc, origin.netloc) from exc
        return _Connection(stream, origin, self.timeouts.stream_idle)

    async def _acquire(self, origin: Origin) -> _Connection:
        idle = self._idle.get(origin)
        if idle:
            conn = idle.pop()
            conn.reused = True
            conn.received_any = False
            return conn
        return await self._open(origin)

    def _release(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.origin, [])
        if self._closed or not conn.reusable() or len(idle) >= MAX_IDLE_PER_ORIGIN:
            # Not awaited: closing the socket is immediate; a TLS close_notify is not needed.
            _close_now(conn)
            return
        conn.h11.start_next_cycle()
        idle.append(conn)

    @staticmethod
    def _head(request: Request) -> h11.Request:
        headers = [("Host", request.origin.netloc), ("User-Agent", USER_AGENT)]
        headers += request.headers
        if isinstance(request.body, bytes | bytearray | memoryview):
            if request.method in ("POST", "PUT") or request.body:
                headers.append(("Content-Length", str(len(request.body))))
        else:
            if request.content_length is None:
                raise ValueError("a streamed request body needs content_length")
            headers.append(("Content-Length", str(request.content_length)))
        return h11.Request(method=request.method, target=request.target, headers=headers)

    async def _send_body(self, conn: _Connection, body: bytes | AsyncIterable[bytes]) -> None:
        if isinstance(body, bytes | bytearray | memoryview):
            if body:
                await conn.send(h11.Data(data=body))
        else:
            async for chunk in body:
                view = memoryview(chunk)
                for start in range(0, len(view), MAX_SEND_CHUNK):
                    piece = view[start : start + MAX_SEND_CHUNK]
                    await conn.send(h11.Data(data=piece))  # type: ignore[arg-type]  # any buffer
        await conn.send(h11.EndOfMessage())

    async def _exchange(self, conn: _Connection, request: Request) -> h11.Response:
        await conn.send(self._head(request))
        try:
            await self._send_body(conn, request.body)
        except (trio.BrokenResourceError, OSError) as send_error:
            # The host may have answered and closed before taking the whole body (an upload
            # refused early): its answer says more than "connection broken".
            with trio.move_on_after(EARLY_ANSWER_GRACE):
                try:
                    return await self._read_head(conn)
                except (XapiException, trio.BrokenResourceError, OSError, h11.ProtocolError):
                    pass
            raise send_error
        return await self._read_head(conn)

    async def _read_head(self, conn: _Connection) -> h11.Response:
        while True:
            event = await conn.next_event()
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                return event
            raise XapiUnreachable("connection closed before the answer", conn.origin.netloc)

    async def request(self, request: Request) -> Response:
        replayable = isinstance(request.body, bytes | bytearray | memoryview)
        while True:
            conn = await self._acquire(request.origin)
            try:
                head = await self._exchange(conn, request)
            except BaseException as exc:
                await conn.aclose()
                stale = conn.reused and not conn.received_any and replayable
                if isinstance(exc, Exception) and stale and not isinstance(exc, ValueError):
                    continue  # the host closed an idle keep-alive connection: retry fresh
                if isinstance(exc, Exception) and not isinstance(exc, XapiException | ValueError):
                    raise translate_transport_error(exc, request.origin.netloc) from exc
                raise
            reader = _BodyReader(self, conn)
            return Response(
                head.status_code,
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers],
                reader,
                reason=head.reason.decode("latin-1"),
                on_close=reader.aclose,
            )

    async def connect(
        self, origin: Origin, target: str, headers: list[tuple[str, str]]
    ) -> Response:
        conn = await self._open(origin)
        try:
            request = Request("CONNECT", origin, target, headers)
            head = await self._exchange(conn, request)
        except BaseException as exc:
            await conn.aclose()
            if isinstance(exc, Exception) and not isinstance(exc, XapiException):
                raise translate_transport_error(exc, origin.netloc) from exc
            raise
        response_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers]
        reason = head.reason.decode("latin-1")
        if 200 <= head.status_code < 300:
            prefix, _closed = conn.h11.trailing_data
            tunnel = _TunnelStream(conn.stream, bytes(prefix))
            return Response(head.status_code, response_headers, reason=reason, tunnel=tunnel)
        reader = _BodyReader(self, conn)
        return Response(
            head.status_code, response_headers, reader, reason=reason, on_close=reader.aclose
        )

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                await conn.aclose()


def _close_now(conn: _Connection) -> None:
    """Close a connection's socket without awaiting (used from synchronous release paths)."""
    stream = conn.stream
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        stream.socket.close()
