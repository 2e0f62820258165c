"""RFB server and client state machines talking over trio memory streams, with the text
screen as the framebuffer; plus handshake variants and pixel-format conversion."""

import struct

import pytest
import trio
import trio.testing

from xo.formats.rfb import (
    ClientCutText,
    ClientInit,
    FramebufferUpdateRequest,
    KeyEvent,
    PixelFormat,
    PointerEvent,
    Rect,
    RfbClient,
    RfbError,
    RfbServer,
    SetEncodings,
    SetPixelFormat,
)
from xo.formats.rfb_client import Connected, FramebufferUpdated
from xo.formats.rfb_messages import BGRX, ENCODING_DESKTOP_SIZE, convert_pixels
from xo.formats.textscreen import TextScreen

RGB565 = PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0)


async def serve_screen(stream: trio.abc.Stream, screen: TextScreen) -> None:
    """A tiny console server: the shape of the simulator's console handler."""
    server = RfbServer(screen.width, screen.height, name=screen.vm_name)
    await stream.send_all(server.data_to_send())
    pending_full = False
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return
        out = bytearray()
        for event in server.feed(data):
            if isinstance(event, KeyEvent) and event.down:
                screen.type_key(event.keysym)
            elif isinstance(event, FramebufferUpdateRequest):
                if event.incremental and not pending_full:
                    rects = [
                        Rect(x, y, w, h, screen.region(x, y, w, h))
                        for x, y, w, h in screen.take_dirty()
                    ]
                else:
                    screen.take_dirty()
                    rects = [Rect(0, 0, screen.width, screen.height, screen.render())]
                out += server.framebuffer_update(rects)
        out = server.data_to_send() + bytes(out)
        if out:
            await stream.send_all(out)


async def pump(stream: trio.abc.Stream, client: RfbClient, want: type) -> list:
    """Send what the client queued, then read until an event of type `want` arrives."""
    events: list = []
    with trio.fail_after(5):
        while True:
            to_send = client.data_to_send()
            if to_send:
                await stream.send_all(to_send)
            if any(isinstance(e, want) for e in events):
                return events
            data = await stream.receive_some(1 << 20)
            assert data, "server closed"
            events += client.feed(data)


async def test_handshake_full_update_then_key_gives_incremental_update():
    screen = TextScreen("web-01", cols=40, rows=10)
    reference = TextScreen("web-01", cols=40, rows=10)
    server_side, client_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_screen, server_side, screen)
        client = RfbClient()
        events = await pump(client_side, client, Connected)
        connected = [e for e in events if isinstance(e, Connected)][0]
        assert (connected.width, connected.height, connected.name) == (480, 200, "web-01")
        assert connected.pixel_format == BGRX

        client.request_update(incremental=False)
        await pump(client_side, client, FramebufferUpdated)
        assert bytes(client.framebuffer) == reference.render()

        client.key_event(True, ord("l"))
        client.key_event(False, ord("l"))
        client.request_update(incremental=True)
        events = await pump(client_side, client, FramebufferUpdated)
        update = [e for e in events if isinstance(e, FramebufferUpdated)][0]
        reference.type_key(ord("l"))
        assert bytes(client.framebuffer) == reference.render()
        # only the typed cell and the cursor cell next to it changed
        assert [(r.x, r.y, r.width, r.height) for r in update.rects] == [
            (len(screen.prompt) * 12, screen.text().index(screen.prompt + "l") * 20, 24, 20)
        ]
        nursery.cancel_scope.cancel()


async def test_16bpp_client_gets_converted_pixels():
    screen = TextScreen("db", cols=20, rows=4)
    server_side, client_side = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_screen, server_side, screen)
        client = RfbClient()
        await pump(client_side, client, Connected)
        client.set_pixel_format(RGB565)
        client.request_update(incremental=False)
        await pump(client_side, client, FramebufferUpdated)
        assert len(client.framebuffer) == screen.width * screen.height * 2
        full = screen.render()
        for x, y in [(0, 0), (5, 5), (100, 30), (239, 79)]:
            at = (y * screen.width + x) * 4
            b, g, r = full[at], full[at + 1], full[at + 2]
            got = client.pixel_rgb(x, y)
            assert all(abs(u - v) <= 8 for u, v in zip(got, (r, g, b), strict=True)), (
                got,
                (r, g, b),
            )
        nursery.cancel_scope.cancel()


def handshake(server: RfbServer, version: bytes) -> bytes:
    assert server.data_to_send() == b"RFB 003.008\n"
    server.feed(version)
    return server.data_to_send()


def test_server_handshake_bytes_per_version():
    s = RfbServer(640, 480, "vm")
    assert handshake(s, b"RFB 003.008\n") == b"\x01\x01"
    s.feed(b"\x01")
    assert s.data_to_send() == b"\0\0\0\0"  # SecurityResult OK (3.8 sends it for None)
    assert s.feed(b"\x00") == [ClientInit(shared=False)]
    init = s.data_to_send()
    assert init[:4] == struct.pack(">HH", 640, 480)
    assert PixelFormat.decode(init[4:20]) == BGRX
    assert init[20:] == b"\0\0\0\x02vm"

    s37 = RfbServer(8, 8)
    assert handshake(s37, b"RFB 003.007\n") == b"\x01\x01"
    assert s37.feed(b"\x01\x01") == [ClientInit(shared=True)]
    assert s37.data_to_send()[:4] == b"\0\x08\0\x08"  # no SecurityResult in 3.7 for None

    s33 = RfbServer(8, 8)
    assert handshake(s33, b"RFB 003.003\n") == b"\0\0\0\x01"  # server-chosen type, u32
    assert s33.feed(b"\x01") == [ClientInit(shared=True)]


def test_server_rejects_bad_version_and_security():
    with pytest.raises(RfbError):
        RfbServer(8, 8).feed(b"HTTP/1.1 200\n")
    s = RfbServer(8, 8)
    handshake(s, b"RFB 003.008\n")
    with pytest.raises(RfbError, match="security"):
        s.feed(b"\x02")
    assert s.data_to_send().startswith(b"\0\0\0\x01")  # SecurityResult failed + reason


def test_client_messages_parse_in_any_piece_size():
    s = RfbServer(100, 50)
    handshake(s, b"RFB 003.008\n")
    s.feed(b"\x01\x01")
    s.data_to_send()
    stream = (
        b"\x00\0\0\0" + RGB565.encode()
        + struct.pack(">BxH3i", 2, 3, 0, ENCODING_DESKTOP_SIZE, 5)
        + struct.pack(">BBHHHH", 3, 1, 1, 2, 30, 40)
        + struct.pack(">BB2xI", 4, 1, 0xFF0D)
        + struct.pack(">BBHH", 5, 1, 10, 20)
        + struct.pack(">B3xI", 6, 5) + b"hello"
    )  # fmt: skip
    events = []
    for i in range(len(stream)):
        events += s.feed(stream[i : i + 1])
    assert events == [
        SetPixelFormat(RGB565),
        SetEncodings((0, ENCODING_DESKTOP_SIZE, 5)),
        FramebufferUpdateRequest(True, 1, 2, 30, 40),
        KeyEvent(True, 0xFF0D),
        PointerEvent(1, 10, 20),
        ClientCutText("hello"),
    ]
    assert s.pixel_format == RGB565 and s.supports_desktop_size
    with pytest.raises(RfbError, match="unknown client message"):
        s.feed(b"\x63")


def test_desktop_size_pseudo_rect_resizes_the_client():
    s, c = RfbServer(8, 8), RfbClient()
    c.feed(s.data_to_send())
    s.feed(c.data_to_send())
    c.feed(s.data_to_send())
    s.feed(c.data_to_send())
    c.feed(s.data_to_send())
    s.feed(c.data_to_send())
    assert c.feed(s.data_to_send())[0] == Connected(8, 8, BGRX, "")
    c.set_encodings([0, ENCODING_DESKTOP_SIZE])
    s.feed(c.data_to_send())
    events = c.feed(s.desktop_size(16, 4))
    assert (c.width, c.height, len(c.framebuffer)) == (16, 4, 16 * 4 * 4)
    assert isinstance(events[0], FramebufferUpdated)


def test_pixel_conversion_formats():
    bgrx = bytes([0x10, 0x20, 0x30, 0, 0xFF, 0x80, 0x00, 0])  # (r,g,b) = (30,20,10), (00,80,ff)
    assert convert_pixels(bgrx, BGRX) == bgrx
    rgbx_be = PixelFormat(32, 24, True, True, 255, 255, 255, 24, 16, 8)  # bytes R,G,B,X
    assert convert_pixels(bgrx, rgbx_be) == bytes([0x30, 0x20, 0x10, 0, 0x00, 0x80, 0xFF, 0])
    bgr233 = PixelFormat(8, 8, False, True, 7, 7, 3, 0, 3, 6)
    assert convert_pixels(bgrx, bgr233) == bytes(
        [(0x30 * 7 // 255) | (0x20 * 7 // 255) << 3, 3 << 3 | 3 << 6]
    )
    out = convert_pixels(bgrx, RGB565)
    assert RGB565.rgb(out[2:4]) == (0, 0x80 * 63 // 255 * 255 // 63, 255)
