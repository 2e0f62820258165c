"""Streaming gzip / zstd for XVA exports and imports, plus xapi's import-side sniffing.

Compressors turn an iterable of pieces into compressed pieces (``compress_stream``), or are
driven by hand (``compress(data) -> bytes`` then ``flush()``). ``SniffingDecompressor`` is fed
the raw upload and returns decompressed pieces; it picks the codec like xapi's import:

- the first bytes are a tar header named ``ova.xml`` -> not compressed;
- zstd frame magic ``28 B5 2F FD`` -> zstd;
- gzip magic ``1F 8B`` -> gzip;
- anything else -> passed through unchanged (xapi would try gzip and fail; passing through lets
  the XVA reader report what it actually found, e.g. "first member must be ova.xml").

Output pieces are bounded so a stream of zeros (gzip ~1000:1, zstd ~30000:1) does not balloon
in memory: gzip via ``max_length``; zstd (whose Python binding has no output limit) by cutting
the input at block boundaries (a block regenerates at most 128 KiB).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Literal, Protocol

import zstandard

Codec = Literal["none", "gzip", "zstd"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
_TAR_OVA_NAME = b"ova.xml\0"  # start of a tar header block whose name is ova.xml

MAX_OUTPUT_PIECE = 1 << 20
"""Decompressed pieces are at most 1 MiB (zstd pieces are one block, <= 128 KiB):
the size of one XVA chunk, so the reader downstream never sees bigger bursts."""


class CompressionError(ValueError):
    """The compressed stream is corrupt or truncated."""


def codec_from_query(use_compression: str | None) -> Codec:
    """xapi's ``/export?use_compression=``: ``true``/``gzip`` -> gzip, ``zstd`` -> zstd."""
    value = (use_compression or "").lower()
    if value in ("true", "gzip"):
        return "gzip"
    if value == "zstd":
        return "zstd"
    return "none"


class Compressor(Protocol):
    def compress(self, data: bytes | memoryview) -> bytes: ...
    def flush(self) -> bytes: ...


class GzipCompressor:
    """gzip member (RFC 1952) written incrementally."""

    def __init__(self, level: int = 6) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31 = gzip header + trailer

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._z.compress(data)

    def flush(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class ZstdCompressor:
    """One zstd frame written incrementally."""

    def __init__(self, level: int = 3) -> None:
        # content checksum on, as the zstd CLI that xapi pipes through does by default
        self._z = zstandard.ZstdCompressor(level=level, write_checksum=True).compressobj()

    def compress(self, data: bytes | memoryview) -> bytes:
        return self._z.compress(data)

    def flush(self) -> bytes:
        return self._z.flush()


class _Identity:
    def compress(self, data: bytes | memoryview) -> bytes:
        return bytes(data)

    def flush(self) -> bytes:
        return b""


def make_compressor(codec: Codec) -> Compressor:
    if codec == "gzip":
        return GzipCompressor()
    if codec == "zstd":
        return ZstdCompressor()
    if codec == "none":
        return _Identity()
    raise ValueError(f"unknown codec {codec!r}")


def compress_stream(
    pieces: Iterable[bytes | memoryview], codec: Codec
) -> Iterator[bytes | memoryview]:
    """Compress a stream of pieces; empty outputs are not yielded. ``none`` passes through."""
    if codec == "none":
        yield from pieces
        return
    compressor = make_compressor(codec)
    for piece in pieces:
        out = compressor.compress(piece)
        if out:
            yield out
    tail = compressor.flush()
    if tail:
        yield tail


def sniff(head: bytes) -> Codec | None:
    """The codec of a stream starting with ``head``, or None if more bytes are needed."""
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(_TAR_OVA_NAME):
        return "none"
    if len(head) >= len(_TAR_OVA_NAME) or not (
        ZSTD_MAGIC.startswith(head) or GZIP_MAGIC.startswith(head) or _TAR_OVA_NAME.startswith(head)
    ):
        return "none"
    return None


class _GzipDecoder:
    """gzip members (concatenated members allowed, as gzip(1) reads them)."""

    _INPUT_STEP = 64 << 10

    def __init__(self) -> None:
        self._z = zlib.decompressobj(31)
        self._started = False  # some input went into the current member

    def step(self, buf: bytearray) -> bytes | None:
        while True:
            if self._z.eof:
                rest = self._z.unused_data
                if not rest and not buf:
                    return None
                buf[0:0] = rest
                self._z = zlib.decompressobj(31)
                self._started = False
            tail = self._z.unconsumed_tail
            if not tail:
                if not buf:
                    return None
                tail = bytes(buf[: self._INPUT_STEP])
                del buf[: self._INPUT_STEP]
                self._started = True
            try:
                out = self._z.decompress(tail, MAX_OUTPUT_PIECE)
            except zlib.error as e:
                raise CompressionError(f"bad gzip stream: {e}") from None
            if out:
                return out

    def finished(self) -> bool:
        return self._z.eof or not self._started


class _ZstdDecoder:
    """zstd frames cut at block boundaries before decompression: a block regenerates at most
    128 KiB, so each output piece is bounded although the binding has no ``max_length``."""

    _BLOCK_MAX = 128 << 10

    def __init__(self) -> None:
        self._z: zstandard.ZstdDecompressionObj | None = None
        self._need = "frame"  # "frame" | "block" | "checksum"
        self._has_checksum = False
        self._skip = 0  # bytes of a skippable frame still to drop

    def step(self, buf: bytearray) -> bytes | None:
        while True:
            if self._skip:
                take = min(self._skip, len(buf))
                del buf[:take]
                self._skip -= take
                if self._skip:
                    return None
            unit = self._next_unit(buf)
            if unit is None:
                return None
            if not unit:
                continue
            assert self._z is not None
            try:
                out = self._z.decompress(unit)
            except zstandard.ZstdError as e:
                raise CompressionError(f"bad zstd stream: {e}") from None
            if out:
                return out

    def _next_unit(self, buf: bytearray) -> bytes | None:
        """Cut the next frame header / block / checksum out of ``buf`` (b"" = nothing to feed)."""
        if self._need == "frame":
            size = self._frame_header_size(buf)
            if size is None or len(buf) < size:
                return None
            if not size:
                return b""  # skippable frame: self._skip set
            self._z = zstandard.ZstdDecompressor().decompressobj()
            self._need = "block"
        elif self._need == "block":
            if len(buf) < 3:
                return None
            header = int.from_bytes(buf[:3], "little")
            kind, length = (header >> 1) & 3, header >> 3
            if kind == 3 or length > self._BLOCK_MAX:
                raise CompressionError("bad zstd block header")
            size = 3 + (1 if kind == 1 else length)  # RLE blocks carry one byte
            if len(buf) < size:
                return None
            if header & 1:  # last block of the frame
                self._need = "checksum" if self._has_checksum else "frame"
        else:
            size = 4
            if len(buf) < size:
                return None
            self._need = "frame"
        unit = bytes(buf[:size])
        del buf[:size]
        return unit

    def _frame_header_size(self, buf: bytearray) -> int | None:
        if len(buf) < 5:
            return None
        magic = int.from_bytes(buf[:4], "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame: 4-byte magic, 4-byte length
            if len(buf) < 8:
                return None
            self._skip = 8 + int.from_bytes(buf[4:8], "little")
            return 0
        if bytes(buf[:4]) != ZSTD_MAGIC:
            raise CompressionError("bad zstd frame magic")
        descriptor = buf[4]
        single_segment = (descriptor >> 5) & 1
        self._has_checksum = bool((descriptor >> 2) & 1)
        fcs_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
        dict_size = (0, 1, 2, 4)[descriptor & 3]
        return 5 + (0 if single_segment else 1) + dict_size + fcs_size

    def finished(self) -> bool:
        return self._need == "frame" and not self._skip and self._z is not None


class SniffingDecompressor:
    """Pull-style decoder (like h11's ``receive_data`` / ``next_event``)::

        for data in body:
            for piece in d.feed(data): ...   # decompressed pieces, each <= MAX_OUTPUT_PIECE
        for piece in d.close(): ...          # the rest; raises CompressionError if truncated

    ``feed`` buffers its input at once and returns a lazy iterator over what can be decoded
    now: consume it before feeding more (only the piece being produced is in memory, whatever
    the ratio). ``next_piece()`` / ``pieces()`` are the same thing one piece at a time.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._eof = False
        self.codec: Codec | None = None
        self._decoder: _GzipDecoder | _ZstdDecoder | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[bytes]:
        if self._eof:
            raise RuntimeError("feed() after close()")
        self._buf += data
        return self.pieces()

    def close(self) -> Iterator[bytes]:
        """End of input: iterate the result to get the last pieces and the truncation check."""
        self._eof = True
        return self.pieces()

    def next_piece(self) -> bytes | None:
        """The next decompressed piece, or None when more input is needed (or all is done)."""
        if self.codec is None:
            codec = sniff(bytes(self._buf[:8]))
            if codec is None:
                if not self._eof:
                    return None
                codec = "none"  # too short to be compressed: let the caller judge it
            self.codec = codec
            if codec == "gzip":
                self._decoder = _GzipDecoder()
            elif codec == "zstd":
                self._decoder = _ZstdDecoder()
        if self._decoder is None:
            plain = bytes(self._buf[:MAX_OUTPUT_PIECE])
            del self._buf[:MAX_OUTPUT_PIECE]
            return plain or None
        decoded = self._decoder.step(self._buf)
        if decoded is None and self._eof:
            if self._buf or not self._decoder.finished():
                raise CompressionError(f"{self.codec} stream truncated")
        return decoded

    def pieces(self) -> Iterator[bytes]:
        while (piece := self.next_piece()) is not None:
            yield piece


def decompress_stream(pieces: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """Sniff and decompress an iterable of pieces (synchronous convenience)."""
    d = SniffingDecompressor()
    for piece in pieces:
        yield from d.feed(piece)
    yield from d.close()
