"""One HTTP/1.1 server connection over any trio stream, driven by h11.

The simulator's hosts need more than a request/response framework gives: XAPI answers some
requests with hand-written heads (`HTTP/1.0 200 OK` for exports, the exact CONNECT reply for
consoles), replies to imports *before* reading their body, and turns CONNECT into a raw byte
stream. So this module exposes a small surface over h11:

- `HttpConnection.next_request()` parses the next request head (keep-alive aware);
- `Request.receive_body()` pulls the body chunk by chunk (back-pressure: the socket is read only
  when the handler asks for more);
- `Request.respond()` / `start_response()` + `send()` + `end()` answer through h11;
- `Request.send_raw_head()` + `send()` write a hand-made head and a close-delimited body;
- `Request.detach()` hands the raw stream (plus bytes already buffered) to a protocol switch.

Whatever a handler does, the connection is reused only when both sides finished a clean h11
cycle; anything else closes it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

import h11
import trio

log = logging.getLogger(__name__)

# Request heads larger than this are refused (431): XAPI clients send a few hundred bytes of
# headers; 64 KiB leaves room for long cookies without letting a client grow our buffer forever.
MAX_HEAD_SIZE = 64 * 1024
# Size of one socket read. Large enough to keep loopback streams fast (a 1 MiB XVA chunk in 16
# reads), small enough that a connection never buffers much beyond what the handler consumes.
RECEIVE_SIZE = 64 * 1024


class HttpError(Exception):
    """Raised by handlers to answer with an HTTP error status (and close the connection)."""

    def __init__(self, status: int, message: str = "", headers: Iterable[tuple[str, str]] = ()):
        super().__init__(status, message)
        self.status = status
        self.message = message or HTTPStatus(status).phrase
        self.headers = list(headers)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def format_head(status_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """`status_line` (e.g. "HTTP/1.0 200 OK") and headers as the exact bytes of a response head."""
    lines = [status_line] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Request:
    """One parsed request head plus the means to read its body and answer it."""

    connection: HttpConnection
    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lowercased names; repeated headers joined with ", "
    http_version: str
    _body_done: bool = False
    responded: bool = field(default=False, init=False)
    detached: bool = field(default=False, init=False)

    @property
    def scheme(self) -> str:
        return "https" if isinstance(self.connection.stream, trio.SSLStream) else "http"

    @property
    def cookies(self) -> dict[str, str]:
        cookies: dict[str, str] = {}
        for part in self.headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                cookies[name] = unquote(value)
        return cookies

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, data = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = (
                base64.b64decode(data.strip(), validate=True).decode().partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    # -- body ---------------------------------------------------------------------------

    async def receive_body(self) -> bytes:
        """Next chunk of the request body; b"" once it is complete.

        Raises HttpError(400) if the client closes before sending the whole body (h11 reports the
        truncation) or sends a malformed one.
        """
        if self._body_done:
            return b""
        while True:
            event = await self.connection._next_event()
            if isinstance(event, h11.Data):
                if event.data:
                    return bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._body_done = True
                return b""
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                self._body_done = True
                return b""

    async def read_body(self, limit: int) -> bytes:
        """The whole body, or HttpError(413) beyond `limit` bytes."""
        declared = self.content_length
        if declared is not None and declared > limit:
            raise HttpError(413, f"request body larger than {limit} bytes")
        parts: list[bytes] = []
        size = 0
        while chunk := await self.receive_body():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"request body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    # -- answers through h11 (keep-alive possible) --------------------------------------

    async def respond(
        self, status: int, headers: Iterable[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        """A complete response with a Content-Length."""
        all_headers = [*headers, ("Content-Length", str(len(body)))]
        await self.start_response(status, all_headers)
        if body:
            await self.send(body)
        await self.end()

    async def start_response(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        self.responded = True
        response = h11.Response(
            status_code=status, headers=list(headers), reason=reason_phrase(status).encode()
        )
        await self.connection._send_event(response)

    async def send(self, data: bytes | memoryview) -> None:
        """Body bytes (through h11, or raw after send_raw_head)."""
        if self.connection._raw:
            await self.connection.stream.send_all(data)
        elif data:
            # h11 copies Data into its output anyway; the cast only silences its `bytes` hint
            await self.connection._send_event(h11.Data(data=cast(bytes, data)))

    async def end(self) -> None:
        if not self.connection._raw:
            await self.connection._send_event(h11.EndOfMessage())

    # -- raw answers (connection closes afterwards) -------------------------------------

    async def send_raw_head(self, status_line: str, headers: Iterable[tuple[str, str]]) -> None:
        """Write a hand-made head; the body that follows is delimited by closing the connection."""
        self.responded = True
        self.connection._raw = True
        await self.connection.stream.send_all(format_head(status_line, headers))

    async def send_error(
        self, status: int, message: str = "", headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """An HTML error answer; the connection closes afterwards."""
        self.responded = True
        await self.connection.send_error(status, message or reason_phrase(status), headers)

    def detach(self) -> tuple[trio.abc.Stream, bytes]:
        """Take over the stream after the head (CONNECT): returns it with the bytes already read."""
        self.responded = True
        self.detached = True
        self.connection._raw = True
        data, _closed = self.connection._h11.trailing_data
        return self.connection.stream, bytes(data)


class HttpConnection:
    """Server side of one client connection."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_SIZE)
        self._raw = False

    @property
    def reusable(self) -> bool:
        return (
            not self._raw and self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE
        )

    async def next_request(self) -> Request | None:
        """The next request head, or None when the client closed the connection cleanly.

        Raises HttpError(400/431) for a malformed head.
        """
        if self._h11.our_state is h11.DONE:
            self._h11.start_next_cycle()
        event = await self._next_event()
        if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None
        assert isinstance(event, h11.Request), event
        return _make_request(self, event)

    async def send_error(
        self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Best-effort error answer, written raw so it works whatever state h11 is in."""
        body = (
            f"<html><body><h1>HTTP {status} {reason_phrase(status)}</h1>{_html_escape(message)}"
            "</body></html>"
        ).encode()
        head = format_head(
            f"HTTP/1.1 {status} {reason_phrase(status)}",
            [
                *headers,
                ("Content-Type", "text/html"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        self._raw = True
        await self.stream.send_all(head + body)

    async def _next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise HttpError(exc.error_status_hint, str(exc)) from exc
            if event is not h11.NEED_DATA:
                return cast("h11.Event | type[h11.PAUSED]", event)
            data = await self.stream.receive_some(RECEIVE_SIZE)
            self._h11.receive_data(bytes(data))

    async def _send_event(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            await self.stream.send_all(data)


def _make_request(connection: HttpConnection, event: h11.Request) -> Request:
    target = event.target.decode("latin-1")
    split = urlsplit(target)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    headers: dict[str, str] = {}
    for name, value in event.headers:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Request(
        connection=connection,
        method=event.method.decode("latin-1"),
        target=target,
        path=unquote(split.path) or "/",
        query=query,
        headers=headers,
        http_version=event.http_version.decode("latin-1"),
    )


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
