"""The transport: the XAPI client's test seam (like httpx's transports).

`XapiClient` only talks to a `Transport`: `request()` for RPC and HTTP handlers, `connect()` for
HTTP CONNECT tunnels. `HttpTransport` (xo.xapi.http11) does real HTTP/1.1 over Trio sockets;
`MockTransport` hands every request to a function, so unit tests give canned answers with no
socket. Transports raise only this package's errors (xo.xapi.errors).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import trio

from .errors import XapiException, translate_transport_error
from .origin import Origin

Body = bytes | AsyncIterable[bytes]


@dataclass(slots=True)
class Request:
    method: str
    origin: Origin
    target: str  # path and query, e.g. "/export?ref=OpaqueRef:..."
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body = b""
    # Required when ``body`` is an async iterable (XAPI refuses chunked uploads).
    content_length: int | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class Response:
    """Status, headers (names lowercased) and a body read once, as an async iterator of bytes."""

    def __init__(
        self,
        status: int,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
        *,
        reason: str = "",
        on_close: Callable[[], Awaitable[None]] | None = None,
        tunnel: trio.abc.Stream | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = [(k.lower(), v) for k, v in (headers or [])]
        self._body = body
        self._on_close = on_close
        self.tunnel = tunnel  # set by transports for CONNECT

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    def __aiter__(self) -> Response:
        return self

    async def __anext__(self) -> bytes:
        if isinstance(self._body, bytes):
            chunk, self._body = self._body, b""
            if chunk:
                return chunk
            await self.aclose()
            raise StopAsyncIteration
        try:
            return await self._body.__anext__()
        except StopAsyncIteration:
            await self.aclose()
            raise

    async def aread(self) -> bytes:
        """The whole body (RPC replies only; streams are iterated chunk by chunk)."""
        chunks = [bytes(chunk) async for chunk in self]
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Release the connection: back to the pool when the body was read to its end."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Transport(ABC):
    @abstractmethod
    async def request(self, request: Request) -> Response:
        """Send ``request``; the caller reads (or closes) the returned response's body."""

    @abstractmethod
    async def connect(
        self, origin: Origin, target: str, headers: list[tuple[str, str]]
    ) -> Response:
        """HTTP CONNECT ``target``; on 2xx the response's ``tunnel`` is the raw byte stream."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to close by default
        """Close idle connections."""


Handler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport(Transport):
    """Calls ``handler(request)`` for every request. Exceptions a socket could raise (OSError,
    trio.TooSlowError, ...) are translated like the real transport does."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    async def _handle(self, request: Request) -> Response:
        self.requests.append(request)
        try:
            result = self.handler(request)
            if inspect.isawaitable(result):
                result = await result
        except XapiException:
            raise
        except (OSError, trio.TooSlowError, trio.BrokenResourceError) as exc:
            raise translate_transport_error(exc, request.origin.netloc) from exc
        assert isinstance(result, Response)
        return result

    async def request(self, request: Request) -> Response:
        return await self._handle(request)

    async def connect(
        self, origin: Origin, target: str, headers: list[tuple[str, str]]
    ) -> Response:
        return await self._handle(Request("CONNECT", origin, target, headers))
