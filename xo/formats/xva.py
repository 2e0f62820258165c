"""XVA (xapi VM export) as a stream: a writer generator and an incremental reader.

Layout (docs/formats.md, reference xapi.md section 6): a tar whose first member is ``ova.xml``,
then for each disk, in lexicographic order of its ova id (``"Ref:10" < "Ref:2"``, as xapi),
chunk members ``<id>/NNNNNNNN`` (8-digit counter) each followed by ``<id>/NNNNNNNN.xxhash``
(XXH64 seed 0, 16 uppercase hex digits; older exports use ``.checksum``, SHA-1 lowercase).
All-zero chunks are skipped (the counter jumps) except the first and last chunk of a disk,
which are always written so a reader can tell where the disk ends. The last chunk is shorter
when the disk size is not a multiple of the chunk size, like xapi (XO pads it instead).

Memory stays flat: ``iter_xva`` yields tar headers and the block data it reads one chunk at a
time; ``XvaReader`` holds at most one chunk (until its checksum member has been checked).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import xxhash

from xo.formats import tar

CHUNK_SIZE = 1 << 20
"""xapi's chunk size; readers learn it from the first chunk instead of assuming it."""

MAX_OVA_XML = 64 << 20
"""ova.xml is held in memory to be parsed: 64 MiB is ~100x the largest real one (hundreds of
VDIs/VIFs), and stops a garbage stream from growing the buffer without limit."""

MAX_CHUNK = 64 << 20
"""A chunk is held until its checksum member arrives; xapi writes 1 MiB, XO too. Anything
bigger than 64 MiB is not an XVA we should buffer."""

_CHUNK_NAME = re.compile(r"^(?P<id>.+)/(?P<counter>\d{8})(?P<ext>\.xxhash|\.checksum)?$")


class XvaError(ValueError):
    """The stream is not a valid XVA (bad tar, bad checksum, order, truncation)."""


@dataclass(frozen=True)
class XvaDisk:
    """One disk to export. ``allocated_blocks`` are ascending chunk indices (chunk_size units)
    that may hold data; every other chunk is zeros. ``read_block(i)`` returns chunk ``i``
    (at least the bytes of that chunk inside ``size``; extra bytes are cut)."""

    ova_id: str
    size: int
    allocated_blocks: Iterable[int]
    read_block: Callable[[int], bytes]


@dataclass(frozen=True)
class OvaXml:
    xml: bytes


@dataclass(frozen=True)
class DiskChunk:
    ova_id: str
    offset: int
    data: bytes


@dataclass(frozen=True)
class End:
    pass


XvaEvent = OvaXml | DiskChunk | End


def xxhash_hex(data: bytes | memoryview) -> bytes:
    """The content of a ``.xxhash`` member: XXH64 seed 0 as 16 uppercase hex digits."""
    return xxhash.xxh64(data).hexdigest().upper().encode()


def sha1_hex(data: bytes | memoryview) -> bytes:
    """The content of a ``.checksum`` member (older exports): SHA-1, 40 lowercase hex digits."""
    return hashlib.sha1(data).hexdigest().encode()


# ----------------------------------------------------------------------------------- writer


def _member(name: str, data: bytes | memoryview, mtime: int) -> Iterator[bytes | memoryview]:
    yield tar.build_header(name, len(data), mtime=mtime)
    if len(data):
        yield data
    pad = tar.padding(len(data))
    if pad:
        yield pad


def _disk_chunks(disk: XvaDisk, chunk_size: int) -> Iterator[tuple[int, memoryview]]:
    """(index, data) of the chunks to write: non-zero ones plus the first and the last."""
    if disk.size <= 0:
        return
    last = (disk.size - 1) // chunk_size
    zero_bytes = bytes(chunk_size)
    zeros = memoryview(zero_bytes)

    def chunk_len(i: int) -> int:
        return min(chunk_size, disk.size - i * chunk_size)

    previous = -1
    for i in disk.allocated_blocks:
        if i <= previous:
            raise ValueError(f"allocated_blocks of {disk.ova_id} must be strictly ascending")
        if i > last:
            break
        if previous < 0 and i > 0:
            yield 0, zeros[: chunk_len(0)]
        previous = i
        length = chunk_len(i)
        view = memoryview(disk.read_block(i)).cast("B")
        if len(view) < length:
            raise ValueError(f"read_block({i}) of {disk.ova_id} returned {len(view)} < {length}")
        view = view[:length]
        # bytes.startswith compares with memcmp whatever the buffer; `==` on a memoryview goes
        # element by element (1,000x slower), and bytes(view) would copy every chunk.
        if i == 0 or i == last or not zero_bytes.startswith(view):
            yield i, view
    if previous < 0 and last > 0:
        yield 0, zeros[: chunk_len(0)]
    if previous < last:
        yield last, zeros[: chunk_len(last)]


def iter_xva(
    ova_xml: bytes,
    disks: Iterable[XvaDisk],
    *,
    chunk_size: int = CHUNK_SIZE,
    checksum: str = "xxhash",
    mtime: int = 0,
) -> Iterator[bytes | memoryview]:
    """The XVA byte stream in pieces of at most ``chunk_size`` bytes.

    ``checksum`` is ``"xxhash"`` (xapi today) or ``"sha1"`` (older ``.checksum`` members).
    """
    if checksum not in ("xxhash", "sha1"):
        raise ValueError(f"unknown checksum kind {checksum!r}")
    digest, ext = (xxhash_hex, "xxhash") if checksum == "xxhash" else (sha1_hex, "checksum")
    yield from _member("ova.xml", ova_xml, mtime)
    for disk in sorted(disks, key=lambda d: d.ova_id):
        for index, data in _disk_chunks(disk, chunk_size):
            name = f"{disk.ova_id}/{index:08d}"
            yield from _member(name, data, mtime)
            yield from _member(f"{name}.{ext}", digest(data), mtime)
    yield tar.END_OF_ARCHIVE


# ----------------------------------------------------------------------------------- reader


@dataclass
class _DiskCursor:
    ova_id: str
    last_counter: int = -1
    offset: int = 0


@dataclass
class _PendingChunk:
    ova_id: str
    counter: int
    offset: int
    data: bytes
    checksum_ext: str | None = None
    checksum_buf: bytearray = field(default_factory=bytearray)


class XvaReader:
    """Incremental XVA parser: ``feed(data) -> list[XvaEvent]``, ``close()`` at end of input.

    Disk offsets follow xapi: ``offset += gap * chunk_len + len(chunk)`` where ``gap`` is the
    number of skipped counter values and ``chunk_len`` the chunk size learned from the stream.
    A chunk is reported (``DiskChunk``) once its checksum member has been verified, so callers
    never write unverified data. With ``verify=False`` (xapi's ``force=true``) checksums are
    not checked and may be absent. Zero-length keep-alive chunks consume a counter value but
    do not move the offset and produce no event.
    """

    def __init__(self, *, verify: bool = True) -> None:
        self._tar = tar.TarParser()
        self._verify = verify
        self._seen_ova = False
        self._ova_buf: bytearray | None = None
        # xapi's reader learns the chunk length from the first chunk of the first disk; that
        # breaks when the first disk is smaller than one chunk, so we take the largest chunk
        # seen so far (only the last chunk of a disk may be shorter)
        self._chunk_len: int | None = None
        self._disk: _DiskCursor | None = None
        self._done_disks: set[str] = set()
        self._current: _PendingChunk | None = None  # chunk member being received
        self._current_buf = bytearray()
        self._pending: _PendingChunk | None = None  # complete chunk waiting for its checksum
        self._in_checksum = False
        self._ended = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[XvaEvent]:
        if self._ended:
            return []
        try:
            tar_events = self._tar.feed(data)
        except tar.TarError as e:
            raise XvaError(f"bad tar: {e}") from None
        out: list[XvaEvent] = []
        for event in tar_events:
            if isinstance(event, tar.Data):
                self._on_data(event.data)
            elif isinstance(event, tar.Member):
                self._on_member(event.header, out)
            elif isinstance(event, tar.MemberEnd):
                self._on_member_end(out)
            else:
                self._on_archive_end(out)
        return out

    @property
    def bytes_read(self) -> int:
        """Archive bytes consumed so far (for task progress)."""
        return self._tar.offset

    def close(self) -> None:
        """Declare end of input; raises ``XvaError`` if the stream was cut short."""
        if not self._ended:
            try:
                self._tar.close()
            except tar.TarError as e:
                raise XvaError(f"XVA stream truncated: {e}") from None
            raise XvaError("XVA stream truncated")

    # -- tar events

    def _on_member(self, header: tar.TarHeader, out: list[XvaEvent]) -> None:
        if not self._seen_ova:
            if header.name != "ova.xml":
                raise XvaError(f"first member must be ova.xml, got {header.name!r}")
            if header.size > MAX_OVA_XML:
                raise XvaError(f"ova.xml too large ({header.size} bytes)")
            self._seen_ova = True
            self._ova_buf = bytearray()
            return
        match = _CHUNK_NAME.match(header.name)
        if header.typeflag != b"0" or match is None:
            raise XvaError(f"unexpected XVA member {header.name!r}")
        ova_id, counter, ext = match["id"], int(match["counter"]), match["ext"]
        if ext:
            self._start_checksum(ova_id, counter, ext[1:], header.size)
        else:
            self._flush_unchecked(out)
            self._start_chunk(ova_id, counter, header.size)

    def _start_checksum(self, ova_id: str, counter: int, ext: str, size: int) -> None:
        pending = self._pending
        if pending is None or (pending.ova_id, pending.counter) != (ova_id, counter):
            raise XvaError(f"checksum member {ova_id}/{counter:08d}.{ext} without its chunk")
        if size > 64:
            raise XvaError(f"checksum member {ova_id}/{counter:08d}.{ext} too large")
        pending.checksum_ext = ext
        self._in_checksum = True

    def _start_chunk(self, ova_id: str, counter: int, size: int) -> None:
        if size > MAX_CHUNK:
            raise XvaError(f"chunk {ova_id}/{counter:08d} too large ({size} bytes)")
        disk = self._disk
        if disk is None or disk.ova_id != ova_id:
            if ova_id in self._done_disks:
                raise XvaError(f"chunks of disk {ova_id} are not contiguous")
            if disk is not None:
                self._done_disks.add(disk.ova_id)
            disk = self._disk = _DiskCursor(ova_id)
        if counter <= disk.last_counter:
            raise XvaError(f"chunk counter {ova_id}/{counter:08d} does not increase")
        gap = counter - disk.last_counter - 1
        if gap:
            if self._chunk_len is None:
                raise XvaError(f"chunk {ova_id}/{counter:08d} skips chunks before any data")
            disk.offset += gap * self._chunk_len
        disk.last_counter = counter
        self._current = _PendingChunk(ova_id, counter, disk.offset, b"")
        self._current_buf = bytearray()
        if size and (self._chunk_len is None or size > self._chunk_len):
            self._chunk_len = size
        disk.offset += size

    def _on_data(self, data: memoryview) -> None:
        if self._ova_buf is not None:
            self._ova_buf += data
        elif self._in_checksum:
            assert self._pending is not None
            self._pending.checksum_buf += data
        else:
            self._current_buf += data

    def _on_member_end(self, out: list[XvaEvent]) -> None:
        if self._ova_buf is not None:
            out.append(OvaXml(bytes(self._ova_buf)))
            self._ova_buf = None
        elif self._in_checksum:
            self._in_checksum = False
            pending, self._pending = self._pending, None
            assert pending is not None
            self._check(pending)
            if pending.data:
                out.append(DiskChunk(pending.ova_id, pending.offset, pending.data))
        else:
            current, self._current = self._current, None
            assert current is not None
            current.data = bytes(self._current_buf)
            self._current_buf = bytearray()
            self._pending = current

    def _check(self, chunk: _PendingChunk) -> None:
        if not self._verify:
            return
        stored = bytes(chunk.checksum_buf).strip()
        if chunk.checksum_ext == "xxhash":
            ok = stored.upper() == xxhash_hex(chunk.data)
        else:
            ok = stored.lower() == sha1_hex(chunk.data)
        if not ok:
            name = f"{chunk.ova_id}/{chunk.counter:08d}"
            raise XvaError(f"checksum mismatch for {name} ({chunk.checksum_ext})")

    def _flush_unchecked(self, out: list[XvaEvent]) -> None:
        """A chunk followed by something other than its checksum member."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if self._verify:
            raise XvaError(f"chunk {pending.ova_id}/{pending.counter:08d} has no checksum member")
        if pending.data:
            out.append(DiskChunk(pending.ova_id, pending.offset, pending.data))

    def _on_archive_end(self, out: list[XvaEvent]) -> None:
        if not self._seen_ova:
            raise XvaError("empty archive: no ova.xml")
        self._flush_unchecked(out)
        self._ended = True
        out.append(End())
