"""RFB 3.8 client side, sans I/O: handshake (security None), update requests, input events,
and FramebufferUpdate parsing (Raw + DesktopSize) into a local framebuffer.

Used by tests and by xo-server's console proxy tests::

    client = RfbClient()
    for event in client.feed(received): ...   # Connected, FramebufferUpdated, Bell, ...
    client.request_update(incremental=False)
    client.key_event(True, 0x61)
    send(client.data_to_send())

``framebuffer`` holds the pixels in the client's pixel format (BGRX unless changed with
``set_pixel_format``); ``pixel_rgb(x, y)`` reads one back as 8-bit channels.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xo.formats.rfb_messages import (
    BELL,
    BGRX,
    CLIENT_CUT_TEXT,
    ENCODING_DESKTOP_SIZE,
    ENCODING_RAW,
    FRAMEBUFFER_UPDATE,
    FRAMEBUFFER_UPDATE_REQUEST,
    KEY_EVENT,
    MAX_CUT_TEXT,
    POINTER_EVENT,
    PROTOCOL_3_8,
    SECURITY_NONE,
    SERVER_CUT_TEXT,
    SET_COLOUR_MAP_ENTRIES,
    SET_ENCODINGS,
    SET_PIXEL_FORMAT,
    PixelFormat,
    Rect,
    RfbError,
)


@dataclass(frozen=True)
class Connected:
    width: int
    height: int
    pixel_format: PixelFormat
    name: str


@dataclass(frozen=True)
class FramebufferUpdated:
    rects: tuple[Rect, ...]  # positions only (pixels are applied to ``framebuffer``)


@dataclass(frozen=True)
class Bell:
    pass


@dataclass(frozen=True)
class ServerCutText:
    text: str


ClientEvent = Connected | FramebufferUpdated | Bell | ServerCutText


class RfbClient:
    def __init__(self, *, shared: bool = True) -> None:
        self.shared = shared
        self.width = 0
        self.height = 0
        self.name = ""
        self.server_format = BGRX
        self.pixel_format = BGRX
        self.framebuffer = bytearray()
        self.state = "version"
        self._in = bytearray()
        self._out = bytearray()
        self._rects_left = 0
        self._rects: list[Rect] = []

    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def feed(self, data: bytes | bytearray | memoryview) -> list[ClientEvent]:
        self._in += data
        events: list[ClientEvent] = []
        while (event := self._next()) is not None:
            if isinstance(event, (Connected, FramebufferUpdated, Bell, ServerCutText)):
                events.append(event)
        return events

    # -- requests

    def set_pixel_format(self, fmt: PixelFormat) -> None:
        self._out += struct.pack(">B3x", SET_PIXEL_FORMAT) + fmt.encode()
        self.pixel_format = fmt
        self.framebuffer = bytearray(self.width * self.height * fmt.bytes_per_pixel)

    def set_encodings(self, encodings: list[int]) -> None:
        self._out += struct.pack(f">BxH{len(encodings)}i", SET_ENCODINGS, len(encodings),
                                 *encodings)  # fmt: skip

    def request_update(self, incremental: bool = True, x: int = 0, y: int = 0,
                       width: int | None = None, height: int | None = None) -> None:  # fmt: skip
        w = self.width - x if width is None else width
        h = self.height - y if height is None else height
        self._out += struct.pack(">BBHHHH", FRAMEBUFFER_UPDATE_REQUEST, incremental, x, y, w, h)

    def key_event(self, down: bool, keysym: int) -> None:
        self._out += struct.pack(">BB2xI", KEY_EVENT, down, keysym)

    def pointer_event(self, button_mask: int, x: int, y: int) -> None:
        self._out += struct.pack(">BBHH", POINTER_EVENT, button_mask, x, y)

    def cut_text(self, text: str) -> None:
        raw = text.encode("latin-1", "replace")
        self._out += struct.pack(">B3xI", CLIENT_CUT_TEXT, len(raw)) + raw

    def pixel_rgb(self, x: int, y: int) -> tuple[int, int, int]:
        bpp = self.pixel_format.bytes_per_pixel
        at = (y * self.width + x) * bpp
        return self.pixel_format.rgb(bytes(self.framebuffer[at : at + bpp]))

    # -- parsing

    def _next(self) -> object | None:
        handler = getattr(self, f"_on_{self.state}")
        return handler()

    def _take(self, n: int) -> bytes | None:
        if len(self._in) < n:
            return None
        raw = bytes(self._in[:n])
        del self._in[:n]
        return raw

    def _on_version(self) -> object | None:
        raw = self._take(12)
        if raw is None:
            return None
        if not raw.startswith(b"RFB 003."):
            raise RfbError(f"bad server ProtocolVersion {raw!r}")
        self._out += PROTOCOL_3_8
        self.state = "security_types"
        return True

    def _on_security_types(self) -> object | None:
        if not self._in:
            return None
        count = self._in[0]
        if count == 0:  # failure: u32 reason length + reason
            if len(self._in) < 5 or len(self._in) < 5 + struct.unpack(">I", self._in[1:5])[0]:
                return None
            raise RfbError(f"server refused the connection: {bytes(self._in[5:])!r}")
        types = self._take(1 + count)
        if types is None:
            return None
        if SECURITY_NONE not in types[1:]:
            raise RfbError(f"server offers no None security (types {list(types[1:])})")
        self._out += bytes([SECURITY_NONE])
        self.state = "security_result"
        return True

    def _on_security_result(self) -> object | None:
        raw = self._take(4)
        if raw is None:
            return None
        if raw != b"\0\0\0\0":
            raise RfbError("security handshake failed")
        self._out += bytes([int(self.shared)])
        self.state = "server_init"
        return True

    def _on_server_init(self) -> object | None:
        if len(self._in) < 24:
            return None
        (name_len,) = struct.unpack(">I", self._in[20:24])
        raw = self._take(24 + name_len)
        if raw is None:
            return None
        self.width, self.height = struct.unpack(">HH", raw[:4])
        self.server_format = self.pixel_format = PixelFormat.decode(raw[4:20])
        self.name = raw[24:].decode("utf-8", "replace")
        self.framebuffer = bytearray(self.width * self.height * self.pixel_format.bytes_per_pixel)
        self.state = "message"
        return Connected(self.width, self.height, self.server_format, self.name)

    def _on_message(self) -> object | None:
        if not self._in:
            return None
        kind = self._in[0]
        if kind == FRAMEBUFFER_UPDATE:
            raw = self._take(4)
            if raw is None:
                return None
            self._rects_left = struct.unpack(">H", raw[2:4])[0]
            self._rects = []
            self.state = "rect"
            return True
        if kind == BELL:
            self._take(1)
            return Bell()
        if kind == SERVER_CUT_TEXT:
            if len(self._in) < 8:
                return None
            (length,) = struct.unpack(">I", self._in[4:8])
            if length > MAX_CUT_TEXT:
                raise RfbError(f"ServerCutText of {length} bytes refused")
            raw = self._take(8 + length)
            return None if raw is None else ServerCutText(raw[8:].decode("latin-1"))
        if kind == SET_COLOUR_MAP_ENTRIES:
            if len(self._in) < 6:
                return None
            (count,) = struct.unpack(">H", self._in[4:6])
            return None if self._take(6 + 6 * count) is None else True
        raise RfbError(f"unknown server message type {kind}")

    def _on_rect(self) -> object | None:
        if not self._rects_left:
            self.state = "message"
            return FramebufferUpdated(tuple(self._rects))
        if len(self._in) < 12:
            return None
        x, y, w, h, encoding = struct.unpack(">HHHHi", self._in[:12])
        if encoding == ENCODING_DESKTOP_SIZE:
            self._take(12)
            self.width, self.height = w, h
            self.framebuffer = bytearray(w * h * self.pixel_format.bytes_per_pixel)
        elif encoding == ENCODING_RAW:
            bpp = self.pixel_format.bytes_per_pixel
            raw = self._take(12 + w * h * bpp)
            if raw is None:
                return None
            self._blit(x, y, w, h, memoryview(raw)[12:], bpp)
        else:
            raise RfbError(f"unsupported encoding {encoding} (we only ask for Raw)")
        self._rects.append(Rect(x, y, w, h, encoding=encoding))
        self._rects_left -= 1
        return True

    def _blit(self, x: int, y: int, w: int, h: int, pixels: memoryview, bpp: int) -> None:
        if x + w > self.width or y + h > self.height:
            raise RfbError(f"rect {x},{y} {w}x{h} outside the {self.width}x{self.height} screen")
        row = w * bpp
        for line in range(h):
            at = ((y + line) * self.width + x) * bpp
            self.framebuffer[at : at + row] = pixels[line * row : (line + 1) * row]
