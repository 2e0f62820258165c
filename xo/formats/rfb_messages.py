"""RFB (RFC 6143) messages shared by our server and client: pixel formats, events, encodings.

Pixels inside our code are always BGRX: 32 bits per pixel, little-endian, red at bit 16,
green at bit 8, blue at bit 0 (bytes B, G, R, unused) - the format our servers announce.
``convert_pixels`` turns such a buffer into any true-colour format a client asks for.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PROTOCOL_3_8 = b"RFB 003.008\n"
VERSIONS = {b"RFB 003.003\n": (3, 3), b"RFB 003.007\n": (3, 7), b"RFB 003.008\n": (3, 8)}

SECURITY_NONE = 1
ENCODING_RAW = 0
ENCODING_DESKTOP_SIZE = -223  # pseudo-encoding: a rect announcing a new framebuffer size

# client -> server message types
SET_PIXEL_FORMAT, SET_ENCODINGS, FRAMEBUFFER_UPDATE_REQUEST = 0, 2, 3
KEY_EVENT, POINTER_EVENT, CLIENT_CUT_TEXT = 4, 5, 6
# server -> client message types
FRAMEBUFFER_UPDATE, SET_COLOUR_MAP_ENTRIES, BELL, SERVER_CUT_TEXT = 0, 1, 2, 3

MAX_CUT_TEXT = 1 << 20
"""Clipboard texts above 1 MiB are refused: nobody pastes that into a console, and the length
field is otherwise an unbounded allocation request."""


class RfbError(ValueError):
    """The peer broke the RFB protocol (bad version, message, security type, ...)."""


_PIXEL_FORMAT = struct.Struct(">BBBBHHHBBB3x")


@dataclass(frozen=True)
class PixelFormat:
    bits_per_pixel: int = 32
    depth: int = 24
    big_endian: bool = False
    true_colour: bool = True
    red_max: int = 255
    green_max: int = 255
    blue_max: int = 255
    red_shift: int = 16
    green_shift: int = 8
    blue_shift: int = 0

    def encode(self) -> bytes:
        return _PIXEL_FORMAT.pack(
            self.bits_per_pixel, self.depth, int(self.big_endian), int(self.true_colour),
            self.red_max, self.green_max, self.blue_max,
            self.red_shift, self.green_shift, self.blue_shift,
        )  # fmt: skip

    @classmethod
    def decode(cls, raw: bytes) -> PixelFormat:
        bpp, depth, big, true, rmax, gmax, bmax, rs, gs, bs = _PIXEL_FORMAT.unpack(raw)
        pf = cls(bpp, depth, bool(big), bool(true), rmax, gmax, bmax, rs, gs, bs)
        if bpp not in (8, 16, 32):
            raise RfbError(f"unsupported bits-per-pixel {bpp}")
        return pf

    @property
    def bytes_per_pixel(self) -> int:
        return self.bits_per_pixel // 8

    def pixel(self, r: int, g: int, b: int) -> bytes:
        """One pixel of 8-bit channels in this format."""
        value = (
            (r * self.red_max // 255) << self.red_shift
            | (g * self.green_max // 255) << self.green_shift
            | (b * self.blue_max // 255) << self.blue_shift
        )
        return value.to_bytes(self.bytes_per_pixel, "big" if self.big_endian else "little")

    def rgb(self, raw: bytes) -> tuple[int, int, int]:
        """8-bit channels of one pixel in this format."""
        value = int.from_bytes(raw, "big" if self.big_endian else "little")

        def channel(shift: int, maximum: int) -> int:
            return ((value >> shift) & maximum) * 255 // maximum if maximum else 0

        return (
            channel(self.red_shift, self.red_max),
            channel(self.green_shift, self.green_max),
            channel(self.blue_shift, self.blue_max),
        )


BGRX = PixelFormat()
"""Our native format (the one ServerInit announces)."""


def convert_pixels(bgrx: bytes | bytearray | memoryview, fmt: PixelFormat) -> bytes:
    """Convert BGRX pixels to ``fmt`` (true colour only)."""
    if not fmt.true_colour:
        raise RfbError("colour-map pixel formats are not supported")
    src = memoryview(bgrx).cast("B")
    if fmt == BGRX or _same_as_bgrx(fmt):
        return bytes(src)
    if fmt.bits_per_pixel == 32 and (fmt.red_max, fmt.green_max, fmt.blue_max) == (255,) * 3:
        return _permute_32(src, fmt)
    # other formats (16 bpp RGB565, 8 bpp BGR233...): per distinct colour, cached
    cache: dict[int, bytes] = {}

    def one(value: int) -> bytes:
        out = cache.get(value)
        if out is None:
            out = cache[value] = fmt.pixel((value >> 16) & 255, (value >> 8) & 255, value & 255)
        return out

    words = src.cast("I") if struct.pack("=I", 1) == struct.pack("<I", 1) else _le_words(src)
    return b"".join(map(one, words))


def _same_as_bgrx(fmt: PixelFormat) -> bool:
    """32 bpp 8-bit channels whose byte layout equals BGRX (e.g. big-endian XRGB shifts 8/16/24)."""
    if fmt.bits_per_pixel != 32 or (fmt.red_max, fmt.green_max, fmt.blue_max) != (255,) * 3:
        return False
    return (
        _byte_index(fmt, fmt.red_shift) == 2
        and _byte_index(fmt, fmt.green_shift) == 1
        and (_byte_index(fmt, fmt.blue_shift) == 0)
    )


def _byte_index(fmt: PixelFormat, shift: int) -> int:
    if shift % 8:
        return -1
    return 3 - shift // 8 if fmt.big_endian else shift // 8


def _permute_32(src: memoryview, fmt: PixelFormat) -> bytes:
    indices = [_byte_index(fmt, s) for s in (fmt.red_shift, fmt.green_shift, fmt.blue_shift)]
    if -1 in indices:
        raise RfbError("32 bpp formats need byte-aligned channel shifts")
    out = bytearray(len(src))
    for channel, index in zip((2, 1, 0), indices, strict=True):  # R, G, B byte in BGRX
        out[index::4] = src[channel::4]
    return bytes(out)


def _le_words(src: memoryview) -> list[int]:
    return [int.from_bytes(src[i : i + 4], "little") for i in range(0, len(src), 4)]


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class ClientInit:
    shared: bool


@dataclass(frozen=True)
class SetPixelFormat:
    pixel_format: PixelFormat


@dataclass(frozen=True)
class SetEncodings:
    encodings: tuple[int, ...]


@dataclass(frozen=True)
class FramebufferUpdateRequest:
    incremental: bool
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class KeyEvent:
    down: bool
    keysym: int


@dataclass(frozen=True)
class PointerEvent:
    button_mask: int
    x: int
    y: int


@dataclass(frozen=True)
class ClientCutText:
    text: str


@dataclass(frozen=True)
class Rect:
    """A framebuffer rectangle with its pixels (BGRX when given to the server)."""

    x: int
    y: int
    width: int
    height: int
    pixels: bytes = b""
    encoding: int = ENCODING_RAW
