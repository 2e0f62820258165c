"""VHD writer checked by qemu-img (an independent reader); VhdReader checked on qemu-img's
own VHD output (an independent writer) and on damaged streams."""

import json
import random
import subprocess
import uuid
from pathlib import Path

import pytest
from stream_memory import drain_measured

from xo.formats.vhd import VhdError, VhdReader, iter_dynamic_vhd, rounded_size
from xo.formats.vhd_structs import BLOCK_SIZE, Footer, geometry

QEMU_IMG = "/usr/bin/qemu-img"
MiB = 1 << 20


def qemu_img(*args: str) -> str:
    return subprocess.run([QEMU_IMG, *args], check=True, capture_output=True, text=True).stdout


def sparse_raw(size: int, blocks: list[int], seed: int = 1) -> bytes:
    rng = random.Random(seed)
    raw = bytearray(size)
    for b in blocks:
        start, end = b * BLOCK_SIZE, min(size, (b + 1) * BLOCK_SIZE)
        raw[start:end] = rng.randbytes(end - start)
    return bytes(raw)


def write_vhd(path: Path, raw: bytes, blocks: list[int], **kw) -> bytes:
    stream = b"".join(
        bytes(p) for p in iter_dynamic_vhd(len(raw), blocks, lambda o, n: raw[o : o + n], **kw)
    )
    path.write_bytes(stream)
    return stream


def read_vhd(stream: bytes, piece: int = 65536) -> tuple[VhdReader, bytes]:
    reader = VhdReader()
    disk = bytearray()
    for i in range(0, len(stream), piece):
        for offset, data in reader.feed(stream[i : i + piece]):
            if len(disk) < offset + len(data):
                disk.extend(bytes(offset + len(data) - len(disk)))
            disk[offset : offset + len(data)] = data
    reader.close()
    assert reader.size is not None
    return reader, bytes(disk).ljust(reader.size, b"\0")


@pytest.mark.parametrize(
    ("size", "blocks"),
    [(7 * MiB + 12345, [0, 2, 3]), (64 * MiB, [1, 5, 31]), (4 * MiB, []), (512, [0])],
)
def test_qemu_reads_our_dynamic_vhd_as_the_raw_disk(tmp_path, size, blocks):
    raw = sparse_raw(size, blocks)
    (tmp_path / "raw.img").write_bytes(raw)
    write_vhd(tmp_path / "disk.vhd", raw, blocks)
    info = json.loads(qemu_img("info", "--output=json", "-f", "vpc", str(tmp_path / "disk.vhd")))
    assert info["format"] == "vpc" and info["virtual-size"] == rounded_size(size)
    # non-strict compare: the extra rounding bytes must read as zeros
    qemu_img(
        "compare", "-f", "raw", "-F", "vpc", str(tmp_path / "raw.img"), str(tmp_path / "disk.vhd")
    )
    qemu_img(
        "convert", "-f", "vpc", "-O", "raw", str(tmp_path / "disk.vhd"), str(tmp_path / "back.img")
    )
    assert (tmp_path / "back.img").read_bytes() == raw.ljust(rounded_size(size), b"\0")


def test_footer_fields_like_vhd_tool(tmp_path):
    stream = write_vhd(tmp_path / "d.vhd", sparse_raw(10 * MiB, [1]), [1])
    footer = Footer.decode(stream[:512])
    assert stream[:512] == stream[-512:]
    assert footer.creator_app == b"tap\0" and footer.disk_type == 3 and footer.data_offset == 512
    assert footer.current_size == 10 * MiB and footer.geometry == geometry(10 * MiB)
    assert stream[512:520] == b"cxsparse"
    assert int.from_bytes(stream[512 + 16 : 512 + 24], "big") == 2048  # BAT offset


def test_vhd_spec_geometry_examples():
    # by hand from the spec: 4096 sectors / 17 spt = 240 -> 4 heads, 60 cylinders
    assert geometry(2 * MiB) == (60, 4, 17)
    # 127 GiB = 266338304 sectors >= 65535*16*63 -> 255 spt, 16 heads, (266338304 // 255) // 16
    assert geometry(127 << 30) == (65278, 16, 255)


@pytest.mark.parametrize("size", [9441280, 10 * MiB, 1 << 30, 127 << 30])
def test_geometry_agrees_with_qemu(tmp_path, size):
    # qemu sizes its "qemu" images to exactly cylinders*heads*spt sectors: the spec algorithm
    # applied to that size must give qemu's geometry back
    (tmp_path / "r.img").write_bytes(b"")
    with open(tmp_path / "r.img", "r+b") as f:
        f.truncate(size)
    qemu_img("convert", "-f", "raw", "-O", "vpc", str(tmp_path / "r.img"), str(tmp_path / "q.vhd"))
    footer = Footer.decode((tmp_path / "q.vhd").read_bytes()[:512])
    assert geometry(footer.current_size) == footer.geometry


@pytest.mark.parametrize("subformat", ["dynamic", "fixed"])
def test_reader_decodes_qemu_written_vhds(tmp_path, subformat):
    raw = sparse_raw(9 * MiB + 4096, [0, 3])
    (tmp_path / "raw.img").write_bytes(raw)
    qemu_img("convert", "-f", "raw", "-O", "vpc", "-o", f"subformat={subformat}",
             str(tmp_path / "raw.img"), str(tmp_path / "q.vhd"))  # fmt: skip
    stream = (tmp_path / "q.vhd").read_bytes()
    for piece in (1000, 1 << 20):
        reader, disk = read_vhd(stream, piece)
        assert disk[: len(raw)] == raw
        assert disk[len(raw) :] == bytes(len(disk) - len(raw))
        assert reader.footer is not None and reader.footer.disk_type == (
            3 if subformat == "dynamic" else 2
        )


def test_round_trip_and_differencing_stream(tmp_path):
    raw = sparse_raw(20 * MiB, [2, 7, 9], seed=3)
    base = uuid.uuid4()
    stream = write_vhd(
        tmp_path / "delta.vhd", raw, [2, 9], parent_uuid=base, parent_name="base.vhd"
    )
    reader, disk = read_vhd(stream, 7777)
    assert reader.footer.disk_type == 4
    assert reader.header.parent_unique_id == base.bytes and reader.header.parent_name == "base.vhd"
    expected = bytearray(20 * MiB)
    for b in (2, 9):
        expected[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE] = raw[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE]
    assert disk == bytes(expected)


def test_differencing_bitmap_limits_the_writes(tmp_path):
    raw = sparse_raw(4 * MiB, [1], seed=4)
    stream = bytearray(write_vhd(tmp_path / "d.vhd", raw, [1], parent_uuid=uuid.uuid4()))
    bitmap_at = 2048 + 512  # BAT is one sector for 2 entries, then the first block's bitmap
    stream[bitmap_at : bitmap_at + 512] = b"\x00" * 512
    stream[bitmap_at] = 0b0110_0000  # sectors 1 and 2 only
    writes = []
    reader = VhdReader()
    for i in range(0, len(stream), 700):  # pieces that straddle sector boundaries
        writes += [(o, bytes(d)) for o, d in reader.feed(stream[i : i + 700])]
    reader.close()
    merged = b"".join(d for _, d in writes)
    assert writes[0][0] == BLOCK_SIZE + 512
    assert merged == raw[BLOCK_SIZE + 512 : BLOCK_SIZE + 1536]


def test_damaged_streams_raise_vhd_error(tmp_path):
    stream = write_vhd(tmp_path / "d.vhd", sparse_raw(6 * MiB, [0, 2]), [0, 2])
    for where in (70, 512 + 40):  # footer unique id, header parent id (both checksummed)
        bad = bytearray(stream)
        bad[where] ^= 1
        with pytest.raises(VhdError, match="checksum"):
            read_vhd(bytes(bad))
    for cut in (100, 1000, 2048 + 100, len(stream) // 2, len(stream) - 10):
        with pytest.raises(VhdError, match="truncated|footer"):
            read_vhd(stream[:cut])
    with pytest.raises(VhdError):
        read_vhd(b"just some bytes that are not a vhd at all" * 100)


def test_exporting_a_4gib_sparse_disk_keeps_memory_flat():
    size = 4 << 30
    blocks = list(range(0, size // BLOCK_SIZE, 128))
    data = random.Random(1).randbytes(BLOCK_SIZE)
    drained = drain_measured(iter_dynamic_vhd(size, blocks, lambda o, n: data[:n]))
    assert drained.total == 2048 + 8192 + len(blocks) * (512 + BLOCK_SIZE) + 512
    assert drained.biggest <= BLOCK_SIZE
    assert drained.peak < 4 * MiB, drained.peak
