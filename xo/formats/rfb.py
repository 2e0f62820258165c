"""RFB 3.8 (RFC 6143) as sans-I/O state machines: ``RfbServer`` here, ``RfbClient`` in
rfb_client.py (re-exported). No sockets: the I/O layer moves bytes.

Server use::

    server = RfbServer(width, height, name="vm-1")
    send(server.data_to_send())              # the ProtocolVersion greeting
    for event in server.feed(received):      # handshake answers are queued automatically
        ...                                  # ClientInit, SetPixelFormat, KeyEvent, ...
    send(server.data_to_send())
    send(server.framebuffer_update([Rect(x, y, w, h, bgrx_pixels)]))

Versions 3.3, 3.7 and 3.8 are accepted (the client picks); the only security type offered is
None (1), as xapi's VNC consoles. Updates use Raw encoding, converted to the client's pixel
format (32/16/8 bpp true colour); ``desktop_size`` sends the DesktopSize pseudo-rect when the
client asked for it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from xo.formats.rfb_client import RfbClient
from xo.formats.rfb_messages import (
    BGRX,
    CLIENT_CUT_TEXT,
    ENCODING_DESKTOP_SIZE,
    FRAMEBUFFER_UPDATE,
    FRAMEBUFFER_UPDATE_REQUEST,
    KEY_EVENT,
    MAX_CUT_TEXT,
    POINTER_EVENT,
    PROTOCOL_3_8,
    SECURITY_NONE,
    SET_ENCODINGS,
    SET_PIXEL_FORMAT,
    VERSIONS,
    ClientCutText,
    ClientInit,
    FramebufferUpdateRequest,
    KeyEvent,
    PixelFormat,
    PointerEvent,
    Rect,
    RfbError,
    SetEncodings,
    SetPixelFormat,
    convert_pixels,
)

__all__ = [
    "ClientCutText", "ClientInit", "FramebufferUpdateRequest", "KeyEvent", "PixelFormat",
    "PointerEvent", "Rect", "RfbClient", "RfbError", "RfbServer", "SetEncodings",
    "SetPixelFormat",
]  # fmt: skip

ServerEvent = (
    ClientInit | SetPixelFormat | SetEncodings | FramebufferUpdateRequest | KeyEvent
    | PointerEvent | ClientCutText
)  # fmt: skip

# fixed sizes of client messages after their type byte (SetEncodings and ClientCutText have a
# variable tail handled separately)
_FIXED = {SET_PIXEL_FORMAT: 19, FRAMEBUFFER_UPDATE_REQUEST: 9, KEY_EVENT: 7, POINTER_EVENT: 5}


class RfbServer:
    def __init__(self, width: int, height: int, name: str = "") -> None:
        self.width = width
        self.height = height
        self.name = name
        self.pixel_format = BGRX  # what the client wants; we convert to it
        self.encodings: tuple[int, ...] = ()
        self.version: tuple[int, int] | None = None
        self.state = "version"  # version -> security -> client_init -> normal
        self._in = bytearray()
        self._out = bytearray(PROTOCOL_3_8)

    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    @property
    def ready(self) -> bool:
        """Handshake done: updates may be sent."""
        return self.state == "normal"

    def feed(self, data: bytes | bytearray | memoryview) -> list[ServerEvent]:
        self._in += data
        events: list[ServerEvent] = []
        while True:
            event = self._next()
            if event is None:
                break
            if event is not _NOTHING:
                events.append(event)  # type: ignore[arg-type]
        return events

    # -- handshake

    def _next(self) -> ServerEvent | object | None:
        if self.state == "version":
            return self._on_version()
        if self.state == "security":
            return self._on_security_choice()
        if self.state == "client_init":
            if not self._in:
                return None
            shared = bool(self._take(1)[0])
            self._out += self._server_init()
            self.state = "normal"
            return ClientInit(shared)
        return self._on_message()

    def _on_version(self) -> object | None:
        if len(self._in) < 12:
            return None
        raw = self._take(12)
        version = VERSIONS.get(raw)
        if version is None:
            if raw.startswith(b"RFB 003.") and raw.endswith(b"\n"):
                version = (3, 8) if raw[8:11] > b"008" else (3, 3)  # RFC 6143 7.1.1
            else:
                raise RfbError(f"bad ProtocolVersion {raw!r}")
        self.version = version
        if version == (3, 3):  # the server decides: a u32 security type, no result
            self._out += struct.pack(">I", SECURITY_NONE)
            self.state = "client_init"
        else:
            self._out += bytes([1, SECURITY_NONE])
            self.state = "security"
        return _NOTHING

    def _on_security_choice(self) -> object | None:
        if not self._in:
            return None
        choice = self._take(1)[0]
        if choice != SECURITY_NONE:
            if self.version == (3, 8):
                reason = b"security type not offered"
                self._out += struct.pack(">II", 1, len(reason)) + reason
            self.state = "failed"
            raise RfbError(f"client chose security type {choice}, only None (1) is offered")
        if self.version == (3, 8):
            self._out += struct.pack(">I", 0)  # SecurityResult OK (3.7 sends none for None)
        self.state = "client_init"
        return _NOTHING

    def _server_init(self) -> bytes:
        name = self.name.encode()
        return (
            struct.pack(">HH", self.width, self.height)
            + BGRX.encode()
            + struct.pack(">I", len(name))
            + name
        )

    # -- normal messages

    def _on_message(self) -> ServerEvent | object | None:
        if not self._in:
            return None
        kind = self._in[0]
        if kind in _FIXED:
            size = 1 + _FIXED[kind]
            if len(self._in) < size:
                return None
            return self._fixed_message(kind, self._take(size)[1:])
        if kind == SET_ENCODINGS:
            if len(self._in) < 4:
                return None
            (count,) = struct.unpack(">H", self._in[2:4])
            if len(self._in) < 4 + 4 * count:
                return None
            raw = self._take(4 + 4 * count)[4:]
            self.encodings = struct.unpack(f">{count}i", raw)
            return SetEncodings(self.encodings)
        if kind == CLIENT_CUT_TEXT:
            if len(self._in) < 8:
                return None
            (length,) = struct.unpack(">I", self._in[4:8])
            if length > MAX_CUT_TEXT:
                raise RfbError(f"ClientCutText of {length} bytes refused")
            if len(self._in) < 8 + length:
                return None
            return ClientCutText(self._take(8 + length)[8:].decode("latin-1"))
        raise RfbError(f"unknown client message type {kind}")

    def _fixed_message(self, kind: int, body: bytes) -> ServerEvent:
        if kind == SET_PIXEL_FORMAT:
            fmt = PixelFormat.decode(body[3:19])
            if not fmt.true_colour:
                raise RfbError("colour-map pixel formats are not supported")
            self.pixel_format = fmt
            return SetPixelFormat(fmt)
        if kind == FRAMEBUFFER_UPDATE_REQUEST:
            incremental, x, y, w, h = struct.unpack(">BHHHH", body)
            return FramebufferUpdateRequest(bool(incremental), x, y, w, h)
        if kind == KEY_EVENT:
            down, keysym = struct.unpack(">B2xI", body)
            return KeyEvent(bool(down), keysym)
        mask, x, y = struct.unpack(">BHH", body)
        return PointerEvent(mask, x, y)

    def _take(self, n: int) -> bytes:
        raw = bytes(self._in[:n])
        del self._in[:n]
        return raw

    # -- output

    def framebuffer_update(self, rects: Iterable[Rect]) -> bytes:
        """A FramebufferUpdate with Raw rects (``pixels`` in BGRX), in the client's format."""
        body = bytearray()
        count = 0
        for rect in rects:
            if len(rect.pixels) != rect.width * rect.height * 4:
                raise ValueError("rect pixels must be width*height BGRX pixels")
            body += struct.pack(">HHHHi", rect.x, rect.y, rect.width, rect.height, 0)
            body += convert_pixels(rect.pixels, self.pixel_format)
            count += 1
        return struct.pack(">BxH", FRAMEBUFFER_UPDATE, count) + bytes(body)

    @property
    def supports_desktop_size(self) -> bool:
        return ENCODING_DESKTOP_SIZE in self.encodings

    def desktop_size(self, width: int, height: int) -> bytes:
        """Announce a new framebuffer size (only if the client supports the pseudo-encoding)."""
        if not self.supports_desktop_size:
            raise RfbError("client did not ask for the DesktopSize pseudo-encoding")
        self.width, self.height = width, height
        return struct.pack(">BxHHHHHi", FRAMEBUFFER_UPDATE, 1, 0, 0, width, height,
                           ENCODING_DESKTOP_SIZE)  # fmt: skip


_NOTHING = object()  # a handshake step that produced no event
