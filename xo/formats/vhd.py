"""VHD streams: a dynamic/differencing writer shaped like xapi's vhd-tool, and a reader.

Writer layout (``iter_dynamic_vhd``): footer copy @0, dynamic header @512, zeros, BAT @2048
(padded to a sector), then the allocated 2 MiB blocks in BAT order, each a 512-byte all-ones
sector bitmap + 2 MiB of data, then the footer. creator_app ``tap\\0`` so every qemu takes
``current_size`` (not the CHS geometry) as the disk size. The size is rounded up to a multiple
of 2 MiB: the BAT covers whole blocks, and some readers (vhd-util, old qemu) misbehave on a
partial last block; the extra bytes read as zeros. With ``parent_uuid`` the stream is a
differencing VHD (type 4, xapi's ``export_raw_vdi?base=``) carrying only the given blocks.

Reader (``VhdReader``): ``feed(bytes) -> list[Write(offset, data)]``, ``close()``. Dynamic and
differencing VHDs need their header and BAT before the blocks (true of every writer we know:
vhd-tool, XO, qemu); blocks may come in any order in the file, each is reported when the stream
passes it. Differencing blocks report only sectors whose bitmap bit is set. A stream that does
not start with a VHD footer is read as a fixed VHD (raw data + footer at the end): its data is
passed through with the last 512 bytes held back and checked as the footer at ``close()``.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from xo.formats.vhd_structs import (
    BAT_UNUSED,
    BLOCK_SIZE,
    DISK_DIFFERENCING,
    DISK_DYNAMIC,
    DISK_FIXED,
    FOOTER_COOKIE,
    FOOTER_SIZE,
    HEADER_SIZE,
    MAX_SIZE,
    SECTOR,
    DynamicHeader,
    Footer,
    VhdError,
    bitmap_size,
    geometry,
    vhd_timestamp,
)

__all__ = ["VhdError", "VhdReader", "Write", "iter_dynamic_vhd", "rounded_size", "Footer"]

_HEADER_OFFSET = 512
_BAT_OFFSET = 2048  # where vhd-tool puts it, leaving room after the 1 KiB header
_PIECE = 1 << 20  # BAT and padding are yielded in pieces of at most this size
_FULL_BITMAP = b"\xff" * bitmap_size(BLOCK_SIZE)


def rounded_size(size: int) -> int:
    """The VHD current_size for a disk of ``size`` bytes: next multiple of 2 MiB."""
    return -(-size // BLOCK_SIZE) * BLOCK_SIZE


def iter_dynamic_vhd(
    size: int,
    allocated_blocks: Iterable[int],
    read: Callable[[int, int], bytes],
    *,
    parent_uuid: uuidlib.UUID | str | None = None,
    parent_name: str = "",
    parent_timestamp: int = 0,
    unique_id: uuidlib.UUID | None = None,
    timestamp: int | None = None,
) -> Iterator[bytes | memoryview]:
    """The VHD byte stream of a disk of ``size`` bytes whose 2 MiB blocks ``allocated_blocks``
    (ascending, de-duplicated) are read with ``read(offset, length)``; all others are absent
    (zeros, or the parent's data for a differencing disk). Pieces are at most 2 MiB; memory
    is the BAT (4 bytes per 2 MiB of disk) plus one block."""
    if size < 0 or size > MAX_SIZE:
        raise ValueError(f"VHD size must be 0..{MAX_SIZE}, not {size}")
    current = rounded_size(size)
    entries = current // BLOCK_SIZE
    bat_bytes = -(-entries * 4 // SECTOR) * SECTOR
    bat = bytearray(b"\xff" * bat_bytes)
    sector = (_BAT_OFFSET + bat_bytes) // SECTOR
    per_block = (len(_FULL_BITMAP) + BLOCK_SIZE) // SECTOR
    previous = -1
    for index in allocated_blocks:
        if index <= previous or index >= entries:
            raise ValueError(f"allocated block {index} out of order or beyond the disk")
        bat[index * 4 : index * 4 + 4] = sector.to_bytes(4, "big")
        sector += per_block
        previous = index
    differencing = parent_uuid is not None
    footer = Footer(
        disk_type=DISK_DIFFERENCING if differencing else DISK_DYNAMIC,
        current_size=current,
        original_size=current,
        data_offset=_HEADER_OFFSET,
        unique_id=(unique_id or uuidlib.uuid4()).bytes,
        timestamp=vhd_timestamp() if timestamp is None else timestamp,
        geometry=geometry(current),
    ).encode()
    header = DynamicHeader(
        table_offset=_BAT_OFFSET,
        max_table_entries=entries,
        parent_unique_id=uuidlib.UUID(str(parent_uuid)).bytes if differencing else bytes(16),
        parent_timestamp=parent_timestamp,
        parent_name=parent_name,
    ).encode()
    yield footer
    yield header
    yield bytes(_BAT_OFFSET - _HEADER_OFFSET - HEADER_SIZE)
    bat_view = memoryview(bat)
    for start in range(0, len(bat), _PIECE):
        yield bat_view[start : start + _PIECE]
    yield from _blocks(size, bat, entries, read)
    yield footer


def _blocks(
    size: int, bat: bytearray, entries: int, read: Callable[[int, int], bytes]
) -> Iterator[bytes | memoryview]:
    for index in range(entries):
        if bat[index * 4 : index * 4 + 4] == b"\xff\xff\xff\xff":
            continue
        offset = index * BLOCK_SIZE
        length = min(BLOCK_SIZE, size - offset)
        data = read(offset, length)
        if len(data) != length:
            raise ValueError(f"read({offset}, {length}) returned {len(data)} bytes")
        yield _FULL_BITMAP
        yield data
        if length < BLOCK_SIZE:
            yield bytes(BLOCK_SIZE - length)


# ----------------------------------------------------------------------------------- reader


class Write(NamedTuple):
    """``data`` belongs at byte ``offset`` of the disk (a view into the bytes fed)."""

    offset: int
    data: memoryview


class VhdReader:
    """Incremental VHD parser; see the module docstring. After the header is parsed,
    ``footer``, ``size`` (current_size) and, for dynamic disks, ``header`` are available."""

    MAX_BAT = 4 * (MAX_SIZE // SECTOR // 8)
    """BAT bytes we accept: enough for a 2040 GiB disk even with small (4 KiB) blocks."""

    def __init__(self) -> None:
        self.footer: Footer | None = None
        self.header: DynamicHeader | None = None
        self._pos = 0  # stream offset of the next byte fed
        self._need: tuple[str, int, int] | None = ("footer", 0, FOOTER_SIZE)
        self._buf = bytearray()
        self._fixed = False
        self._blocks: list[tuple[int, int]] = []  # (file offset, block index), descending
        self._next_index = 0  # block whose bitmap is awaited
        self._bitmap_len = 0
        self._block: tuple[int, int] | None = None  # (disk offset, bytes done) being streamed
        self._block_left = 0
        self._bitmap = b""  # of the block being streamed; b"" = every sector present
        self._tail = bytearray()  # the last (at most 512) bytes seen after the blocks

    @property
    def size(self) -> int | None:
        return self.footer.current_size if self.footer else None

    def feed(self, data: bytes | bytearray | memoryview) -> list[Write]:
        view = memoryview(data).cast("B")
        out: list[Write] = []
        if self._fixed:
            self._feed_fixed(view, out)
            return out
        i = 0
        while i < len(view):
            i = self._step(view, i, out)
            if self._fixed:
                self._feed_fixed(view[i:], out)
                break
        return out

    def close(self) -> None:
        """Declare end of input; raises ``VhdError`` when the stream is incomplete."""
        if self._fixed:
            if len(self._tail) < FOOTER_SIZE or self._tail[:8] != FOOTER_COOKIE:
                raise VhdError("stream is neither a dynamic VHD nor a complete fixed VHD")
            footer = Footer.decode(bytes(self._tail))
            if footer.disk_type != DISK_FIXED or footer.current_size != self._pos:
                raise VhdError("fixed VHD footer does not match the data (truncated?)")
            self.footer = footer
            return
        if self._need is not None or self._blocks or self._block is not None:
            raise VhdError("VHD stream truncated")
        if len(self._tail) < FOOTER_SIZE:
            raise VhdError("VHD stream truncated: no trailing footer")
        trailing = Footer.decode(bytes(self._tail[-FOOTER_SIZE:]))
        if self.footer is None or trailing.unique_id != self.footer.unique_id:
            raise VhdError("VHD trailing footer does not match the first one")

    # -- stages: each consumes bytes from view[i:], returns the new index

    def _step(self, view: memoryview, i: int, out: list[Write]) -> int:
        if self._need is not None:
            what, start, length = self._need
            if self._pos > start + len(self._buf):
                raise VhdError(f"VHD {what} at {start} comes before data already read")
            if self._pos < start:  # skip up to the structure
                skip = min(start - self._pos, len(view) - i)
                self._pos += skip
                return i + skip
            take = min(length - len(self._buf), len(view) - i)
            self._buf += view[i : i + take]
            self._pos += take
            if len(self._buf) == length:
                raw, self._buf = bytes(self._buf), bytearray()
                self._need = None
                self._on_structure(what, raw)
            return i + take
        if self._block is not None:
            return self._stream_block(view, i, out)
        if self._blocks:
            start, index = self._blocks.pop()
            if start < self._pos:
                raise VhdError(f"VHD block {index} at {start} overlaps earlier data")
            self._need = ("bitmap", start, self._bitmap_len)
            self._next_index = index
            return i
        # after the last block: keep the last 512 bytes (the trailing footer)
        take = len(view) - i
        self._tail += view[i:]
        del self._tail[:-FOOTER_SIZE]
        self._pos += take
        return len(view)

    def _on_structure(self, what: str, raw: bytes) -> None:
        if what == "footer":
            if raw[:8] != FOOTER_COOKIE:
                self._fixed = True  # raw data: the footer, if any, is at the end
                self._tail = bytearray(raw)
                self._pos = 0  # from now on: disk bytes reported
                return
            footer = Footer.decode(raw)
            if footer.disk_type == DISK_FIXED:
                raise VhdError("fixed VHD footer at offset 0")
            self.footer = footer
            self._need = ("header", footer.data_offset, HEADER_SIZE)
        elif what == "header":
            header = DynamicHeader.decode(raw)
            self.header = header
            bat_len = header.max_table_entries * 4
            if bat_len > self.MAX_BAT:
                raise VhdError(f"VHD BAT too large ({header.max_table_entries} entries)")
            self._bitmap_len = bitmap_size(header.block_size)
            self._need = ("bat", header.table_offset, bat_len)
        elif what == "bat":
            self._on_bat(raw)
        else:
            self._on_bitmap(raw)

    def _on_bat(self, raw: bytes) -> None:
        assert self.header is not None
        blocks = []
        for index in range(self.header.max_table_entries):
            entry = int.from_bytes(raw[index * 4 : index * 4 + 4], "big")
            if entry != BAT_UNUSED:
                blocks.append((entry * SECTOR, index))
        blocks.sort(reverse=True)  # popped from the end: ascending file offsets
        self._blocks = blocks

    def _on_bitmap(self, raw: bytes) -> None:
        assert self.header is not None and self.footer is not None
        offset = self._next_index * self.header.block_size
        self._block = (offset, 0)
        self._block_left = self.header.block_size
        full = raw.count(0xFF) == len(raw)
        # dynamic disks: the whole block is data, whatever the bitmap says (as qemu reads it)
        self._bitmap = b"" if full or self.footer.disk_type == DISK_DYNAMIC else raw

    def _stream_block(self, view: memoryview, i: int, out: list[Write]) -> int:
        assert self._block is not None and self.footer is not None
        offset, done = self._block
        take = min(self._block_left, len(view) - i)
        piece = view[i : i + take]
        self._emit(offset + done, done, piece, out)
        self._block_left -= take
        self._pos += take
        self._block = (offset, done + take) if self._block_left else None
        return i + take

    def _emit(self, disk_offset: int, in_block: int, piece: memoryview, out: list[Write]) -> None:
        assert self.footer is not None
        limit = self.footer.current_size - disk_offset
        if limit <= 0:
            return
        piece = piece[:limit]
        if not self._bitmap:
            out.append(Write(disk_offset, piece))
            return
        # differencing: only the runs of sectors whose bitmap bit is set
        end = in_block + len(piece)
        pos = in_block
        run_start: int | None = None
        while pos < end:
            sector = pos // SECTOR
            boundary = min(end, (sector + 1) * SECTOR)
            present = self._bitmap[sector >> 3] & (0x80 >> (sector & 7))
            if present and run_start is None:
                run_start = pos
            elif not present and run_start is not None:
                out.append(Write(disk_offset - in_block + run_start,
                                 piece[run_start - in_block : pos - in_block]))  # fmt: skip
                run_start = None
            pos = boundary
        if run_start is not None:
            out.append(Write(disk_offset - in_block + run_start, piece[run_start - in_block :]))

    def _feed_fixed(self, view: memoryview, out: list[Write]) -> None:
        """Fixed VHD: everything but the last 512 bytes is disk data."""
        emit = len(self._tail) + len(view) - FOOTER_SIZE
        if emit <= 0:
            self._tail += view
            return
        from_tail = min(emit, len(self._tail))
        if from_tail:
            out.append(Write(self._pos, memoryview(bytes(self._tail[:from_tail]))))
            self._pos += from_tail
            del self._tail[:from_tail]
        from_view = emit - from_tail
        if from_view:
            out.append(Write(self._pos, view[:from_view]))
            self._pos += from_view
        self._tail += view[from_view:]
