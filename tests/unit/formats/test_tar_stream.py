"""ustar writer checked by Python's tarfile; incremental parser checked against tarfile output."""

import io
import tarfile

import pytest

from xo.formats import tar


def _build(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray()
    for name, data in members:
        out += (
            tar.build_header(name, len(data), mtime=1_700_000_000) + data + tar.padding(len(data))
        )
    return bytes(out + tar.END_OF_ARCHIVE)


def _parse(raw: bytes, piece: int) -> list[tuple[str, bytes]]:
    parser = tar.TarParser()
    members: list[tuple[str, bytes]] = []
    buf = bytearray()
    ended = False
    for i in range(0, len(raw), piece):
        for event in parser.feed(raw[i : i + piece]):
            if isinstance(event, tar.Member):
                name = event.header.name
                buf = bytearray()
            elif isinstance(event, tar.Data):
                buf += event.data
            elif isinstance(event, tar.MemberEnd):
                members.append((name, bytes(buf)))
            else:
                ended = True
    parser.close()
    assert ended
    return members


MEMBERS = [
    ("ova.xml", b"<value/>"),
    ("Ref:1/00000000", bytes(range(256)) * 5),
    ("e", b""),
    ("x" * 100, b"a" * 512),
]


def test_headers_are_read_by_tarfile():
    raw = _build(MEMBERS)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        infos = archive.getmembers()
        assert [i.name for i in infos] == [n for n, _ in MEMBERS]
        assert all(i.mtime == 1_700_000_000 and i.mode == 0o644 for i in infos)
        assert [archive.extractfile(i).read() for i in infos] == [d for _, d in MEMBERS]


@pytest.mark.parametrize("piece", [1, 7, 512, 100_000])
def test_parser_reads_tarfile_archives_in_any_piece_size(piece):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in MEMBERS:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    assert _parse(out.getvalue(), piece) == MEMBERS


def test_long_ustar_names_use_the_prefix_field():
    name = "d" * 120 + "/file"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    assert _parse(out.getvalue(), 4096) == [(name, b"abc")]


def test_name_too_long_for_our_writer_is_refused():
    with pytest.raises(ValueError):
        tar.build_header("n" * 101, 0)


def test_bad_checksum_is_a_tar_error():
    raw = bytearray(_build(MEMBERS))
    raw[0] ^= 0x01
    with pytest.raises(tar.TarError, match="checksum"):
        tar.TarParser().feed(raw)


@pytest.mark.parametrize("cut", [100, 512 + 3, 1024 + 1000, -1024])
def test_truncation_is_reported_at_close(cut):
    parser = tar.TarParser()
    parser.feed(_build(MEMBERS)[:cut])
    with pytest.raises(tar.TarError, match="truncated"):
        parser.close()


def test_data_after_the_end_marker_is_ignored():
    parser = tar.TarParser()
    events = parser.feed(_build([("a", b"1")]) + b"garbage" * 100)
    assert isinstance(events[-1], tar.ArchiveEnd)
    parser.close()
