"""VHD on-disk structures (Microsoft VHD spec): footer, dynamic header, geometry, checksums.

All integers are big-endian; a sector is 512 bytes. Used by ``vhd.py`` (stream writer and
reader); kept separate because both directions share exactly these encodings.
"""

from __future__ import annotations

import struct
import time
import uuid as uuidlib
from dataclasses import dataclass

SECTOR = 512
BLOCK_SIZE = 2 << 20
"""Every xapi/XO/qemu dynamic VHD uses 2 MiB blocks."""

FOOTER_SIZE = 512
HEADER_SIZE = 1024
MAX_SIZE = 2040 << 30
"""xapi refuses VHD exports above 2040 GiB (VDI_TOO_LARGE); the format tops out near there."""

FOOTER_COOKIE = b"conectix"
HEADER_COOKIE = b"cxsparse"
DISK_FIXED, DISK_DYNAMIC, DISK_DIFFERENCING = 2, 3, 4
UNUSED_OFFSET = 0xFFFFFFFFFFFFFFFF
BAT_UNUSED = 0xFFFFFFFF
VHD_EPOCH = 946684800  # 2000-01-01T00:00:00Z: VHD timestamps count seconds from there

_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427x")
_HEADER = struct.Struct(">8sQQIIII16sII512s192s256x")


class VhdError(ValueError):
    """Not a valid VHD: bad cookie, checksum, layout, or truncated stream."""


def vhd_checksum(data: bytes | bytearray) -> int:
    """Ones' complement of the byte sum (the checksum field must be zero in ``data``)."""
    return ~sum(data) & 0xFFFFFFFF


def geometry(size: int) -> tuple[int, int, int]:
    """(cylinders, heads, sectors per track) from the VHD spec's CHS algorithm."""
    total = min(size // SECTOR, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cyl_times_heads = total // spt
    else:
        spt = 17
        cyl_times_heads = total // spt
        heads = max(4, (cyl_times_heads + 1023) // 1024)
        if cyl_times_heads >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cyl_times_heads = total // spt
        if cyl_times_heads >= heads * 1024:
            spt, heads = 63, 16
            cyl_times_heads = total // spt
    return cyl_times_heads // heads, heads, spt


def vhd_timestamp(unix_time: float | None = None) -> int:
    now = time.time() if unix_time is None else unix_time
    return max(0, int(now) - VHD_EPOCH) & 0xFFFFFFFF


@dataclass(frozen=True)
class Footer:
    disk_type: int
    current_size: int
    original_size: int
    data_offset: int
    unique_id: bytes = b"\0" * 16
    timestamp: int = 0
    creator_app: bytes = b"tap\0"
    creator_version: int = 0x00010003
    creator_host_os: bytes = b"Wi2k"
    geometry: tuple[int, int, int] = (0, 0, 0)
    features: int = 2  # the "reserved, always set" bit
    saved_state: int = 0

    def encode(self) -> bytes:
        def pack(checksum: int) -> bytes:
            cylinders, heads, spt = self.geometry
            return _FOOTER.pack(
                FOOTER_COOKIE, self.features, 0x00010000, self.data_offset, self.timestamp,
                self.creator_app, self.creator_version, self.creator_host_os,
                self.original_size, self.current_size, cylinders, heads, spt,
                self.disk_type, checksum, self.unique_id, self.saved_state,
            )  # fmt: skip

        return pack(vhd_checksum(pack(0)))

    @classmethod
    def decode(cls, raw: bytes) -> Footer:
        if len(raw) < FOOTER_SIZE:
            raise VhdError("VHD footer truncated")
        raw = bytes(raw[:FOOTER_SIZE])
        (cookie, features, _version, data_offset, timestamp, app, app_version, host_os,
         original, current, cylinders, heads, spt, disk_type, checksum, unique_id,
         saved_state) = _FOOTER.unpack(raw)  # fmt: skip
        if cookie != FOOTER_COOKIE:
            raise VhdError(f"bad VHD footer cookie {cookie!r}")
        zeroed = raw[:64] + b"\0\0\0\0" + raw[68:]
        if vhd_checksum(zeroed) != checksum:
            raise VhdError("bad VHD footer checksum")
        if disk_type not in (DISK_FIXED, DISK_DYNAMIC, DISK_DIFFERENCING):
            raise VhdError(f"unsupported VHD disk type {disk_type}")
        return cls(
            disk_type, current, original, data_offset, unique_id, timestamp, app, app_version,
            host_os, (cylinders, heads, spt), features, saved_state,
        )  # fmt: skip

    @property
    def uuid(self) -> uuidlib.UUID:
        return uuidlib.UUID(bytes=self.unique_id)


@dataclass(frozen=True)
class DynamicHeader:
    table_offset: int
    max_table_entries: int
    block_size: int = BLOCK_SIZE
    parent_unique_id: bytes = b"\0" * 16
    parent_timestamp: int = 0
    parent_name: str = ""
    data_offset: int = UNUSED_OFFSET

    def encode(self) -> bytes:
        name = self.parent_name.encode("utf-16-be")[:512]

        def pack(checksum: int) -> bytes:
            return _HEADER.pack(
                HEADER_COOKIE, self.data_offset, self.table_offset, 0x00010000,
                self.max_table_entries, self.block_size, checksum, self.parent_unique_id,
                self.parent_timestamp, 0, name, bytes(192),
            )  # fmt: skip

        return pack(vhd_checksum(pack(0)))

    @classmethod
    def decode(cls, raw: bytes) -> DynamicHeader:
        raw = bytes(raw[:HEADER_SIZE])
        (cookie, data_offset, table_offset, _version, entries, block_size, checksum,
         parent_id, parent_ts, _reserved, name, _locators) = _HEADER.unpack(raw)  # fmt: skip
        if cookie != HEADER_COOKIE:
            raise VhdError(f"bad VHD dynamic header cookie {cookie!r}")
        if vhd_checksum(raw[:36] + b"\0\0\0\0" + raw[40:]) != checksum:
            raise VhdError("bad VHD dynamic header checksum")
        if block_size < SECTOR or block_size % SECTOR or block_size > (256 << 20):
            raise VhdError(f"bad VHD block size {block_size}")
        parent_name = name.decode("utf-16-be", "replace").rstrip("\0")
        return cls(table_offset, entries, block_size, parent_id, parent_ts, parent_name,
                   data_offset)  # fmt: skip


def bitmap_size(block_size: int) -> int:
    """Bytes of the sector bitmap that precedes each block, rounded up to a sector."""
    bits_bytes = (block_size // SECTOR + 7) // 8
    return -(-bits_bytes // SECTOR) * SECTOR
