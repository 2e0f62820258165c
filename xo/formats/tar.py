"""POSIX ustar archives as a stream: header building and an incremental parser.

No sockets and no ``tarfile`` in the hot path: the writer side builds 512-byte headers that
the caller interleaves with member data (so a multi-GiB member never sits in memory), and the
parser is an h11-style machine: ``feed(bytes) -> list[event]`` with events

    Member(header) -> Data(memoryview)* -> MemberEnd()    (per member)
    ArchiveEnd()                                          (first all-zero block)

``Data`` payloads are memoryviews into the bytes given to ``feed`` (no copy): consume or copy
them before mutating that buffer. ``close()`` at end of input raises ``TarError`` unless the
archive end was seen. Everything after the end-of-archive block (the second zero block, record
padding) is ignored, as GNU tar and xapi do.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)
"""Two zero blocks, the ustar end-of-archive marker."""

_ZERO_BLOCK = bytes(BLOCK)
_MAX_NAME = 100  # the ustar name field; longer names would need the prefix field or pax headers
_MAX_OCTAL_SIZE = 8**11 - 1  # 11 octal digits + NUL in the 12-byte size field (8 GiB - 1)


class TarError(ValueError):
    """The byte stream is not a well-formed tar archive (bad checksum, bad field, truncated)."""


@dataclass(frozen=True)
class TarHeader:
    name: str
    size: int
    mode: int = 0o644
    mtime: int = 0
    typeflag: bytes = b"0"

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("tar member size must be >= 0")


@dataclass(frozen=True)
class Member:
    header: TarHeader


@dataclass(frozen=True)
class Data:
    data: memoryview


@dataclass(frozen=True)
class MemberEnd:
    pass


@dataclass(frozen=True)
class ArchiveEnd:
    pass


TarEvent = Member | Data | MemberEnd | ArchiveEnd


def padding_length(size: int) -> int:
    """Number of zero bytes that follow ``size`` bytes of member data."""
    return -size % BLOCK


def padding(size: int) -> bytes:
    return _ZERO_BLOCK[: padding_length(size)]


def _octal(value: int, width: int) -> bytes:
    """``width``-byte NUL-terminated zero-padded octal field."""
    text = b"%0*o" % (width - 1, value)
    if len(text) != width - 1:
        raise ValueError(f"value {value} does not fit a {width}-byte tar field")
    return text + b"\0"


def build_header(
    name: str, size: int, *, mode: int = 0o644, mtime: int = 0, typeflag: bytes = b"0"
) -> bytes:
    """A 512-byte ustar header for a member of ``size`` bytes (names up to 100 UTF-8 bytes)."""
    raw_name = name.encode()
    if not raw_name or len(raw_name) > _MAX_NAME:
        raise ValueError(f"tar member name must be 1..{_MAX_NAME} bytes: {name!r}")
    if size > _MAX_OCTAL_SIZE:
        raise ValueError(f"tar member too large for a ustar size field: {size}")
    header = bytearray(BLOCK)
    header[0 : len(raw_name)] = raw_name
    header[100:108] = _octal(mode, 8)
    header[108:116] = _octal(0, 8)  # uid
    header[116:124] = _octal(0, 8)  # gid
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(mtime, 12)
    header[148:156] = b" " * 8  # checksum is computed with this field as spaces
    header[156:157] = typeflag
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    checksum = sum(header)
    header[148:156] = b"%06o\0 " % checksum
    return bytes(header)


def _parse_number(field: bytes, what: str) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for values too large for octal
        value = int.from_bytes(field[1:], "big")
        return value
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarError(f"bad octal {what} field {bytes(field)!r}") from None


def parse_header(block: bytes) -> TarHeader:
    """Decode one non-zero 512-byte header block, checking its checksum."""
    stored = _parse_number(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    if stored != unsigned:
        signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 256
        if stored != signed:
            raise TarError(f"bad tar header checksum (stored {stored}, computed {unsigned})")
    name = block[:100].split(b"\0", 1)[0]
    if block[257:262] == b"ustar" and block[345] != 0:
        name = block[345:500].split(b"\0", 1)[0] + b"/" + name
    typeflag = block[156:157]
    if typeflag == b"\0":
        typeflag = b"0"
    return TarHeader(
        name=name.decode("utf-8", "replace"),
        size=_parse_number(block[124:136], "size"),
        mode=_parse_number(block[100:108], "mode"),
        mtime=_parse_number(block[136:148], "mtime"),
        typeflag=typeflag,
    )


class TarParser:
    """Incremental tar reader: ``feed(data) -> list[TarEvent]``, then ``close()`` at EOF."""

    def __init__(self) -> None:
        self._header_buf = bytearray()  # at most one block, while a header arrives in pieces
        self._data_left = 0  # bytes of member data still to come
        self._pad_left = 0  # padding bytes to skip after the data
        self._in_member = False
        self.ended = False
        self.offset = 0  # bytes of the archive consumed so far (error messages, progress)

    def feed(self, data: bytes | bytearray | memoryview) -> list[TarEvent]:
        events: list[TarEvent] = []
        view = memoryview(data).cast("B")
        pos = 0
        end = len(view)
        while pos < end and not self.ended:
            if self._data_left:
                take = min(self._data_left, end - pos)
                events.append(Data(view[pos : pos + take]))
                self._data_left -= take
                pos += take
                self.offset += take
                if not self._data_left:
                    self._finish_data(events)
            elif self._pad_left:
                take = min(self._pad_left, end - pos)
                self._pad_left -= take
                pos += take
                self.offset += take
            else:
                take = min(BLOCK - len(self._header_buf), end - pos)
                self._header_buf += view[pos : pos + take]
                pos += take
                self.offset += take
                if len(self._header_buf) == BLOCK:
                    self._on_header_block(events)
        return events

    def _finish_data(self, events: list[TarEvent]) -> None:
        events.append(MemberEnd())
        self._in_member = False

    def _on_header_block(self, events: list[TarEvent]) -> None:
        block = bytes(self._header_buf)
        self._header_buf.clear()
        if block == _ZERO_BLOCK:
            self.ended = True
            events.append(ArchiveEnd())
            return
        try:
            header = parse_header(block)
        except TarError as e:
            raise TarError(f"{e} (header ending at byte {self.offset})") from None
        events.append(Member(header))
        self._in_member = True
        self._data_left = header.size
        self._pad_left = padding_length(header.size)
        if not header.size:
            self._finish_data(events)

    def close(self) -> None:
        """Declare end of input; raises ``TarError`` if the archive was cut short."""
        if self.ended:
            return
        if self._in_member:
            raise TarError(
                f"tar stream truncated inside a member ({self._data_left} bytes missing)"
            )
        if self._header_buf:
            raise TarError("tar stream truncated inside a header block")
        raise TarError("tar stream truncated: no end-of-archive block")
