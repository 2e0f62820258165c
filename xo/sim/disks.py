"""Virtual disk contents: sparse, deterministic, cheap.

Every VDI is a list of 1 MiB blocks. A new disk gets a few pseudo-random blocks derived from
(seed, index), generated on the fly when read, so a 100 GiB disk costs a few bytes of state and
still streams real, reproducible bytes. Writes are stored per block and read back byte-exact.
Clones share the generated layer and copy the map of written blocks (blocks are immutable
``bytes``, so this is copy-on-write).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

BLOCK = 1 << 20
# How many blocks of a fresh disk hold generated data: block 0 plus a few spread out.
GENERATED_BLOCKS = 6
# A generated block is a rotation of one random pattern of this size repeated: realistic for
# checksums, compressible like real data, and cheap (a dense 2 GiB export must not be limited by
# making its bytes: no per-block random generator, no per-block allocation when streaming).
_PATTERN = 1 << 16
# Rotation step between consecutive blocks: odd, so 65,536 consecutive blocks (64 GiB) all get
# distinct rotations.
_ROTATION_STEP = 4_099
_ZERO_BLOCK = bytes(BLOCK)


@dataclass
class _Disk:
    size: int
    seed: int
    generated: frozenset[int]
    written: dict[int, bytes] = field(default_factory=dict)


def _generated_indices(seed: int, size: int) -> frozenset[int]:
    count = (size + BLOCK - 1) // BLOCK
    if count == 0 or seed < 0:
        return frozenset()
    rng = random.Random(seed)
    wanted = min(count, GENERATED_BLOCKS)
    indices = {0}
    while len(indices) < wanted:
        indices.add(rng.randrange(count))
    return frozenset(indices)


@functools.lru_cache(maxsize=4)
def _seed_span(seed: int) -> bytes:
    """The seed's 64 KiB random pattern repeated over 1 MiB + 64 KiB: every generated block of
    the disk is one 1 MiB window of it (bounded cache: a few disks streaming at once)."""
    pattern = random.Random(seed * 1_000_003).randbytes(_PATTERN)
    return pattern * (BLOCK // _PATTERN + 1)


def _generated_view(seed: int, index: int) -> memoryview:
    """Block ``index`` of a generated disk, without copying: a window of the seed's span."""
    start = (index * _ROTATION_STEP) % _PATTERN
    return memoryview(_seed_span(seed))[start : start + BLOCK]


def _generate_block(seed: int, index: int) -> bytes:
    return bytes(_generated_view(seed, index))


class DiskStore:
    """Contents of every VDI of a pool, by VDI ref."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._disks: dict[str, _Disk] = {}
        self._counter = 0

    def create(self, vdi_ref: str, size: int, seed: int | None = None) -> None:
        """A disk of ``size`` bytes; ``seed=None`` derives one, a negative seed means all zeros."""
        if seed is None:
            self._counter += 1
            seed = self._seed * 7_919 + self._counter
        self._disks[vdi_ref] = _Disk(size, seed, _generated_indices(seed, size))

    def create_empty(self, vdi_ref: str, size: int) -> None:
        self.create(vdi_ref, size, seed=-1)

    def exists(self, ref: str) -> bool:
        return ref in self._disks

    def clone(self, src: str, dst: str) -> None:
        disk = self._disks[src]
        self._disks[dst] = _Disk(disk.size, disk.seed, disk.generated, dict(disk.written))

    def destroy(self, ref: str) -> None:
        self._disks.pop(ref, None)

    def size(self, ref: str) -> int:
        return self._disks[ref].size

    def resize(self, ref: str, size: int) -> None:
        disk = self._disks[ref]
        last = (size + BLOCK - 1) // BLOCK
        disk.size = size
        disk.generated = frozenset(i for i in disk.generated if i < last)
        for index in [i for i in disk.written if i >= last]:
            del disk.written[index]

    def _block(self, disk: _Disk, index: int) -> bytes:
        data = disk.written.get(index)
        if data is not None:
            return data
        if index in disk.generated:
            return _generate_block(disk.seed, index)
        return _ZERO_BLOCK

    def read_view(self, ref: str, offset: int, length: int) -> bytes | memoryview:
        """Like `read`, without copying when the range is one whole block (a generated block is a
        view of a shared buffer, valid as long as the caller keeps it): what streams send."""
        disk = self._disks[ref]
        index, within = divmod(offset, BLOCK)
        if within or length != BLOCK or offset + BLOCK > disk.size:
            return self.read(ref, offset, length)
        data = disk.written.get(index)
        if data is not None:
            return data
        if index in disk.generated:
            return _generated_view(disk.seed, index)
        return _ZERO_BLOCK

    def read(self, ref: str, offset: int, length: int) -> bytes:
        disk = self._disks[ref]
        end = min(offset + length, disk.size)
        if offset >= end:
            return b""
        parts: list[bytes] = []
        pos = offset
        while pos < end:
            index, within = divmod(pos, BLOCK)
            take = min(BLOCK - within, end - pos)
            block = self._block(disk, index)
            parts.append(block[within : within + take] if (within or take != BLOCK) else block)
            pos += take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def write(self, ref: str, offset: int, data: bytes | bytearray | memoryview) -> None:
        disk = self._disks[ref]
        view = memoryview(data)
        if offset + len(view) > disk.size:
            raise ValueError(
                f"write beyond the end of the disk ({offset + len(view)} > {disk.size})"
            )
        pos = 0
        while pos < len(view):
            index, within = divmod(offset + pos, BLOCK)
            take = min(BLOCK - within, len(view) - pos)
            chunk = view[pos : pos + take]
            if within == 0 and take == BLOCK:
                disk.written[index] = bytes(chunk)
            else:
                block = bytearray(self._block(disk, index))
                block[within : within + take] = chunk
                disk.written[index] = bytes(block)
            pos += take

    def allocated_blocks(self, ref: str, block_size: int = BLOCK) -> Iterator[int]:
        """Ascending indices (in ``block_size`` units) of blocks that may be non-zero."""
        disk = self._disks[ref]
        indices = {(i * BLOCK) // block_size for i in disk.generated | disk.written.keys()}
        if block_size < BLOCK:
            per = BLOCK // block_size
            indices = {
                (i * BLOCK) // block_size + k
                for i in disk.generated | disk.written.keys()
                for k in range(per)
            }
        limit = (disk.size + block_size - 1) // block_size
        return iter(sorted(i for i in indices if i < limit))

    def physical_utilisation(self, ref: str) -> int:
        disk = self._disks[ref]
        return min(disk.size, len(disk.generated | disk.written.keys()) * BLOCK)
