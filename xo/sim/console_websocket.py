"""The console's WebSocket variant (xapi `ws_helpers.ml`): RFB carried in binary frames.

`GET /console?...` with `Upgrade: websocket` is answered `101 Switching Protocols` with
`Sec-WebSocket-Protocol: binary` (RFC 6455 only; hixie-76 is long dead), then the same RFB
server as CONNECT runs over `WebSocketByteStream`, a `trio.abc.Stream` that turns frames into a
byte stream and back, so `console_rfb.serve_rfb` does not know the difference.
"""

from __future__ import annotations

import base64
import hashlib

import trio
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RECEIVE_SIZE = 64 * 1024
# RFB over WebSocket is a byte stream: message boundaries carry no meaning, so a full-screen
# update (2 MB) goes out as several messages, each small enough for clients that cap message
# sizes (trio-websocket refuses messages over 1 MiB by default).
MAX_MESSAGE = 64 * 1024


def accept_key(client_key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((client_key.strip() + WEBSOCKET_GUID).encode()).digest()
    return base64.b64encode(digest).decode()


def upgrade_headers(client_key: str, protocols: str) -> list[tuple[str, str]]:
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(client_key)),
    ]
    if "binary" in [p.strip() for p in protocols.split(",")]:
        headers.append(("Sec-WebSocket-Protocol", "binary"))
    return headers


class WebSocketByteStream(trio.abc.Stream):
    """Server side of an upgraded WebSocket, seen as a plain byte stream (binary frames)."""

    def __init__(self, stream: trio.abc.Stream, initial: bytes = b"") -> None:
        self._stream = stream
        self._ws = Connection(ConnectionType.SERVER, trailing_data=initial)
        self._pending = bytearray()
        self._closed = False
        self._send_lock = trio.Lock()  # reader (pongs, close) and writer (data) both send

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the WebSocket is closed")
        view = memoryview(data)
        for start in range(0, len(view), MAX_MESSAGE):
            piece = bytes(view[start : start + MAX_MESSAGE])
            await self._send(self._ws.send(BytesMessage(data=piece)))

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        limit = max_bytes or RECEIVE_SIZE
        while not self._pending:
            if self._closed:
                return b""
            if not await self._pump():
                return b""
        out = bytes(self._pending[:limit])
        del self._pending[:limit]
        return out

    async def aclose(self) -> None:
        self._closed = True
        await self._stream.aclose()

    async def _pump(self) -> bool:
        """Read frames until some payload or the end; False at the end of the connection."""
        for event in self._ws.events():
            if isinstance(event, BytesMessage):
                self._pending += event.data
            elif isinstance(event, TextMessage):
                self._pending += event.data.encode()
            elif isinstance(event, Ping):
                await self._send(self._ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                await self._send(self._ws.send(event.response()))
                self._closed = True
                return False
        if self._pending:
            return True
        data = await self._stream.receive_some(RECEIVE_SIZE)
        if not data:
            self._closed = True
            return False
        self._ws.receive_data(bytes(data))
        return True

    async def _send(self, data: bytes) -> None:
        async with self._send_lock:
            await self._stream.send_all(data)
