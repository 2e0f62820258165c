"""Our streaming compressors checked by stdlib gzip / the zstandard one-shot API, and sniffing."""

import gzip
import random

import pytest
import zstandard
from stream_memory import drain_measured

from xo.formats import tar
from xo.formats.compression import (
    CompressionError,
    SniffingDecompressor,
    codec_from_query,
    compress_stream,
    decompress_stream,
)
from xo.formats.xva import XvaDisk, XvaReader, iter_xva

DATA = [random.Random(1).randbytes(70_000), bytes(300_000), b"xapi" * 10_000, memoryview(b"tail")]
PLAIN = b"".join(bytes(p) for p in DATA)


def test_gzip_output_is_read_by_stdlib_gzip():
    assert gzip.decompress(b"".join(compress_stream(DATA, "gzip"))) == PLAIN


def test_zstd_output_is_read_by_zstandard():
    compressed = b"".join(compress_stream(DATA, "zstd"))
    assert compressed.startswith(b"\x28\xb5\x2f\xfd")
    reader = zstandard.ZstdDecompressor().stream_reader(compressed)
    assert reader.read(10 * len(PLAIN)) == PLAIN


def test_none_passes_pieces_through():
    assert list(compress_stream(DATA, "none")) == DATA


def test_concatenated_gzip_members_and_zstd_frames_are_read_whole():
    for codec, one in (
        ("gzip", gzip.compress),
        ("zstd", zstandard.ZstdCompressor(write_checksum=True).compress),
    ):
        raw = one(b"first ") + one(b"second")
        assert _decompress(raw, 5) == (codec, b"first second")


def _decompress(raw: bytes, piece: int) -> tuple[str | None, bytes]:
    d = SniffingDecompressor()
    out = bytearray()
    for i in range(0, len(raw), piece):
        for p in d.feed(raw[i : i + piece]):
            out += p
    for p in d.close():
        out += p
    return d.codec, bytes(out)


def test_feed_buffers_even_when_its_iterator_is_not_consumed():
    raw = gzip.compress(PLAIN)
    d = SniffingDecompressor()
    d.feed(raw[:1000])  # result ignored: drained later through pieces()
    d.feed(raw[1000:])
    d.close()
    assert b"".join(d.pieces()) == PLAIN


@pytest.mark.parametrize("piece", [1, 3, 4096, 1 << 20])
def test_sniffing_picks_the_codec_like_xapi_import(piece):
    xva = tar.build_header("ova.xml", 1) + b"x" + tar.padding(1) + tar.END_OF_ARCHIVE
    assert _decompress(xva, piece)[:2] == ("none", xva)
    assert _decompress(gzip.compress(xva), piece)[:2] == ("gzip", xva)
    assert _decompress(zstandard.ZstdCompressor().compress(xva), piece)[:2] == ("zstd", xva)
    assert _decompress(b"not a tar at all", piece)[:2] == ("none", b"not a tar at all")
    assert _decompress(b"\x1f", piece)[:2] == ("none", b"\x1f")


def test_xapi_query_values():
    assert [codec_from_query(v) for v in ("true", "gzip", "zstd", "false", None)] == [
        "gzip",
        "gzip",
        "zstd",
        "none",
        "none",
    ]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_truncated_or_corrupt_compressed_streams_are_errors(codec):
    raw = b"".join(compress_stream(DATA, codec))
    d = SniffingDecompressor()
    d.feed(raw[: len(raw) // 2])
    d.close()
    with pytest.raises(CompressionError, match="truncated"):
        list(d.pieces())
    bad = bytearray(raw)
    bad[len(bad) // 2 : len(bad) // 2 + 64] = bytes(64)
    with pytest.raises(CompressionError):
        _decompress(bytes(bad), 1 << 20)


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_compressed_zeros_decompress_in_bounded_pieces(codec):
    zeros = [bytes(1 << 20)] * 256  # 256 MiB of zeros compress to a few hundred KiB at most
    raw = b"".join(compress_stream(zeros, codec))
    drained = drain_measured(
        decompress_stream(raw[i : i + 65536] for i in range(0, len(raw), 65536))
    )
    assert drained.total == 256 << 20
    assert drained.biggest <= 1 << 20
    assert drained.peak < 4 << 20, drained.peak


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_compressed_xva_round_trip(codec):
    block = random.Random(2).randbytes(1 << 20)
    disk = XvaDisk("Ref:1", 3 << 20, [1], lambda i: block)
    raw = b"".join(compress_stream(iter_xva(b"<value/>", [disk]), codec))
    reader = XvaReader()
    events = []
    for p in decompress_stream(raw[i : i + 10_000] for i in range(0, len(raw), 10_000)):
        events += reader.feed(p)
    reader.close()
    chunks = {e.offset: e.data for e in events if hasattr(e, "offset")}
    assert (
        chunks[1 << 20] == block
        and chunks[0] == bytes(1 << 20)
        and chunks[2 << 20] == bytes(1 << 20)
    )
