"""XVA writer checked by tarfile + the xxhash package; reader round trips and rejects damage."""

import hashlib
import io
import random
import tarfile

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from stream_memory import drain_measured

from xo.formats import tar
from xo.formats.xva import DiskChunk, End, OvaXml, XvaDisk, XvaError, XvaReader, iter_xva

MiB = 1 << 20
OVA = b"<value><struct><member><name>objects</name><value><array><data/></array></value></member></struct></value>"


class SparseDisk:
    """A disk of `size` bytes whose chunks in `blocks` hold seeded random data (some zeroed)."""

    def __init__(self, size: int, blocks: dict[int, bytes]):
        self.size = size
        self.blocks = blocks

    def read_block(self, i: int) -> bytes:
        return self.blocks.get(i, bytes(MiB))

    def xva(self, ova_id: str) -> XvaDisk:
        return XvaDisk(ova_id, self.size, sorted(self.blocks), self.read_block)

    def raw(self) -> bytes:
        out = bytearray(self.size)
        for i, data in self.blocks.items():
            end = min(self.size, (i + 1) * MiB)
            out[i * MiB : end] = data[: end - i * MiB]
        return bytes(out)


def make_disk(
    size: int, indices: list[int], seed: int = 0, zero: frozenset = frozenset()
) -> SparseDisk:
    rng = random.Random(seed)
    blocks = {i: (bytes(MiB) if i in zero else rng.randbytes(MiB)) for i in indices}
    return SparseDisk(size, blocks)


def export(disks: dict[str, SparseDisk], **kw) -> bytes:
    return b"".join(bytes(p) for p in iter_xva(OVA, [d.xva(k) for k, d in disks.items()], **kw))


def read_back(raw: bytes, piece: int = 65536, verify: bool = True):
    reader = XvaReader(verify=verify)
    events = []
    for i in range(0, len(raw), piece):
        events += reader.feed(raw[i : i + piece])
    reader.close()
    return events


def rebuild(events, sizes: dict[str, int]) -> tuple[bytes, dict[str, bytes]]:
    assert isinstance(events[0], OvaXml) and isinstance(events[-1], End)
    disks = {k: bytearray(n) for k, n in sizes.items()}
    for e in events[1:-1]:
        assert isinstance(e, DiskChunk)
        disks[e.ova_id][e.offset : e.offset + len(e.data)] = e.data
    return events[0].xml, {k: bytes(v) for k, v in disks.items()}


def test_tarfile_sees_ova_first_then_chunks_in_lexicographic_disk_order():
    disks = {
        "Ref:2": make_disk(3 * MiB + 1000, [1], seed=2),
        "Ref:10": make_disk(5 * MiB, [0, 2, 3], seed=10, zero=frozenset({3})),
    }
    raw = export(disks)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        infos = archive.getmembers()
        names = [i.name for i in infos]
        assert names == [
            "ova.xml",
            "Ref:10/00000000",
            "Ref:10/00000000.xxhash",
            "Ref:10/00000002",
            "Ref:10/00000002.xxhash",
            "Ref:10/00000004",
            "Ref:10/00000004.xxhash",  # 3 is all zeros: skipped; 4 is last
            "Ref:2/00000000",
            "Ref:2/00000000.xxhash",  # first chunk always present
            "Ref:2/00000001",
            "Ref:2/00000001.xxhash",
            "Ref:2/00000003",
            "Ref:2/00000003.xxhash",  # last chunk, 1000 bytes (as xapi)
        ]
        assert archive.extractfile("ova.xml").read() == OVA
        data = {i.name: archive.extractfile(i).read() for i in infos}
    for name, content in data.items():
        if name.endswith(".xxhash"):
            chunk = data[name.removesuffix(".xxhash")]
            assert content == xxhash.xxh64(chunk).hexdigest().upper().encode()
            assert len(content) == 16
    assert len(data["Ref:2/00000003"]) == 1000
    assert data["Ref:2/00000001"] == disks["Ref:2"].blocks[1]
    assert data["Ref:10/00000004"] == bytes(MiB)


def test_sha1_checksum_members_for_older_readers():
    raw = export({"Ref:1": make_disk(MiB, [0])}, checksum="sha1")
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        chunk = archive.extractfile("Ref:1/00000000").read()
        assert (
            archive.extractfile("Ref:1/00000000.checksum").read()
            == hashlib.sha1(chunk).hexdigest().encode()
        )
    assert rebuild(read_back(raw), {"Ref:1": MiB})[1]["Ref:1"] == chunk


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6 * MiB + 5), min_size=1, max_size=3),
    data=st.data(),
    piece=st.sampled_from([511, 4096, 1 << 20, 3 << 20]),
)
def test_round_trip_random_sparse_disks(sizes, data, piece):
    disks = {}
    for n, size in enumerate(sizes):
        count = (size + MiB - 1) // MiB
        indices = data.draw(st.lists(st.integers(0, count - 1), unique=True, max_size=count))
        zero = frozenset(
            data.draw(st.lists(st.sampled_from(indices), unique=True)) if indices else []
        )
        disks[f"Ref:{n * 7}"] = make_disk(size, sorted(indices), seed=n, zero=zero)
    raw = export(disks)
    xml, got = rebuild(read_back(raw, piece), {k: d.size for k, d in disks.items()})
    assert xml == OVA
    assert got == {k: d.raw() for k, d in disks.items()}


def _keepalive_stream() -> tuple[bytes, bytes]:
    """Handmade xapi-like stream: chunk 0, a zero-length keep-alive (counter 1), chunk 3."""
    rng = random.Random(5)
    c0, c3 = rng.randbytes(MiB), rng.randbytes(MiB)
    out = bytearray()

    def member(name, data):
        out.extend(tar.build_header(name, len(data)) + data + tar.padding(len(data)))

    member("ova.xml", OVA)
    for counter, chunk in [(0, c0), (1, b""), (3, c3)]:
        member(f"Ref:1/{counter:08d}", chunk)
        member(f"Ref:1/{counter:08d}.xxhash", xxhash.xxh64(chunk).hexdigest().upper().encode())
    out += tar.END_OF_ARCHIVE
    # counter 1 consumed no bytes, counter 2 was skipped (1 MiB of zeros): c3 lands at 2 MiB
    return bytes(out), c0 + bytes(MiB) + c3


def test_zero_length_keepalive_chunks_do_not_move_the_offset():
    raw, expected = _keepalive_stream()
    _, got = rebuild(read_back(raw, 1000), {"Ref:1": 3 * MiB})
    assert got["Ref:1"] == expected


def test_bytes_read_counts_the_archive_for_progress():
    raw, _ = _keepalive_stream()
    reader = XvaReader()
    reader.feed(raw[:5000])
    assert reader.bytes_read == 5000
    reader.feed(raw[5000:])
    assert reader.bytes_read == len(raw) - 512  # the second end-of-archive block is not needed


def test_corrupted_chunk_fails_the_checksum():
    raw = bytearray(export({"Ref:1": make_disk(2 * MiB, [0, 1])}))
    raw[512 * 4 + 10] ^= 0xFF  # inside Ref:1/00000000 data (ova.xml = header + 1 block)
    with pytest.raises(XvaError, match="checksum mismatch"):
        read_back(bytes(raw))
    events = read_back(bytes(raw), verify=False)  # force=true
    assert isinstance(events[-1], End)


def test_truncated_stream_is_reported_at_close():
    raw = export({"Ref:1": make_disk(2 * MiB, [0, 1])})
    for cut in (300, 512 * 3 + 7, len(raw) // 2, len(raw) - 1024):
        with pytest.raises(XvaError, match="truncated"):
            read_back(raw[:cut])


def test_first_member_must_be_ova_xml():
    raw = tar.build_header("Ref:1/00000000", 1) + b"x" + tar.padding(1) + tar.END_OF_ARCHIVE
    with pytest.raises(XvaError, match="ova.xml"):
        read_back(raw)


def test_counters_must_increase_and_checksum_must_follow():
    def stream(names):
        out = bytearray(tar.build_header("ova.xml", 0))
        for name in names:
            data = b"x" * 512
            if name.endswith(".xxhash"):
                data = xxhash.xxh64(data).hexdigest().upper().encode()
            out += tar.build_header(name, len(data)) + data + tar.padding(len(data))
        return bytes(out + tar.END_OF_ARCHIVE)

    with pytest.raises(XvaError, match="does not increase"):
        read_back(stream(["Ref:1/00000000", "Ref:1/00000000.xxhash", "Ref:1/00000000"]))
    with pytest.raises(XvaError, match="no checksum"):
        read_back(stream(["Ref:1/00000000", "Ref:1/00000001"]))
    with pytest.raises(XvaError, match="without its chunk"):
        read_back(stream(["Ref:1/00000000.xxhash"]))
    with pytest.raises(XvaError, match="not contiguous"):
        read_back(
            stream(
                [
                    "Ref:1/00000000",
                    "Ref:1/00000000.xxhash",
                    "Ref:2/00000000",
                    "Ref:2/00000000.xxhash",
                    "Ref:1/00000002",
                    "Ref:1/00000002.xxhash",
                ]
            )
        )


def test_exporting_a_4gib_sparse_disk_keeps_memory_flat():
    size = 4 << 30
    allocated = list(range(0, size // MiB, 256))  # one data chunk every 256 MiB
    block = random.Random(1).randbytes(MiB)
    disk = XvaDisk("Ref:1", size, allocated, lambda i: block)
    drained = drain_measured(iter_xva(OVA, [disk]))
    assert drained.biggest <= MiB
    assert drained.total > len(allocated) * MiB
    assert drained.peak < 4 * MiB, drained.peak
