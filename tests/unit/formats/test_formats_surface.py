"""The public names other packages (sim/net, xo-server) import from xo.formats stay put."""

import importlib

import pytest

SURFACE = {
    "xo.formats.tar": ["build_header", "padding", "END_OF_ARCHIVE", "TarParser", "TarError",
                       "TarHeader", "Member", "Data", "MemberEnd", "ArchiveEnd"],
    "xo.formats.xva": ["iter_xva", "XvaDisk", "XvaReader", "XvaError", "OvaXml", "DiskChunk",
                       "End", "CHUNK_SIZE", "xxhash_hex", "sha1_hex"],
    "xo.formats.compression": ["compress_stream", "decompress_stream", "SniffingDecompressor",
                               "CompressionError", "GzipCompressor", "ZstdCompressor",
                               "make_compressor", "codec_from_query", "sniff"],
    "xo.formats.vhd": ["iter_dynamic_vhd", "VhdReader", "VhdError", "Write", "rounded_size"],
    "xo.formats.rfb": ["RfbServer", "RfbClient", "RfbError", "Rect", "PixelFormat", "KeyEvent",
                       "PointerEvent", "FramebufferUpdateRequest", "SetPixelFormat",
                       "SetEncodings", "ClientCutText", "ClientInit"],
    "xo.formats.textscreen": ["TextScreen", "KEY_RETURN", "KEY_BACKSPACE"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_public_names_exist(module):
    mod = importlib.import_module(module)
    missing = [name for name in SURFACE[module] if not hasattr(mod, name)]
    assert missing == []
