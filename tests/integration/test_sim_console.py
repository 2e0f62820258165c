"""CONNECT /console: the exact xapi reply, then a VNC server a client can read and type into.

The RFB client here is written from RFC 6143 for the test (not xo.formats.rfb), so the
simulator's server is checked against an independent reading of the protocol.
"""

from __future__ import annotations

import struct
from urllib.parse import urlsplit

import pytest
import trio

CONNECT_REPLY = (
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nCache-Control: no-cache, no-store\r\n\r\n"
)


class MiniRfbClient:
    """Just enough RFB 3.8 to read a 32-bpp Raw framebuffer and send keys."""

    def __init__(self, stream: trio.abc.Stream, leftover: bytes = b"") -> None:
        self.stream = stream
        self.buffer = bytearray(leftover)
        self.width = self.height = 0
        self.name = ""
        self.pixels = bytearray()

    async def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError("server closed the console")
            self.buffer += data
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    async def handshake(self) -> None:
        version = await self.read(12)
        assert version == b"RFB 003.008\n"
        await self.stream.send_all(b"RFB 003.008\n")
        (count,) = await self.read(1)
        types = await self.read(count)
        assert 1 in types  # security "None"
        await self.stream.send_all(b"\x01")
        assert struct.unpack(">I", await self.read(4))[0] == 0  # SecurityResult OK
        await self.stream.send_all(b"\x01")  # ClientInit: shared
        self.width, self.height = struct.unpack(">HH", await self.read(4))
        await self.read(16)  # server pixel format
        (name_length,) = struct.unpack(">I", await self.read(4))
        self.name = (await self.read(name_length)).decode()
        # ask for 32 bpp little-endian BGRX, Raw encoding only
        pixel_format = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        await self.stream.send_all(b"\x00\x00\x00\x00" + pixel_format)
        await self.stream.send_all(struct.pack(">BxHi", 2, 1, 0))
        self.pixels = bytearray(self.width * self.height * 4)

    async def update(self, incremental: bool) -> int:
        """Request an update and apply it; returns the number of changed pixels."""
        await self.stream.send_all(
            struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.width, self.height)
        )
        kind, count = struct.unpack(">BxH", await self.read(4))
        assert kind == 0
        changed = 0
        for _ in range(count):
            x, y, w, h, encoding = struct.unpack(">HHHHi", await self.read(12))
            assert encoding == 0
            raw = await self.read(w * h * 4)
            for row in range(h):
                at = ((y + row) * self.width + x) * 4
                old = self.pixels[at : at + w * 4]
                new = raw[row * w * 4 : (row + 1) * w * 4]
                changed += sum(1 for i in range(0, w * 4, 4) if old[i : i + 3] != new[i : i + 3])
                self.pixels[at : at + w * 4] = new
        return changed

    async def key(self, keysym: int) -> None:
        for down in (1, 0):
            await self.stream.send_all(struct.pack(">BBxxI", 4, down, keysym))

    def distinct_colours(self) -> int:
        return len({bytes(self.pixels[i : i + 3]) for i in range(0, len(self.pixels), 4 * 7)})


async def _session(xenapi) -> str:
    return xenapi.session._session


async def _running_vm(xenapi, sim_pool) -> tuple[str, dict]:
    records = await xenapi.call("VM.get_all_records")
    for ref, vm in records.items():
        if vm["power_state"] == "Running" and not vm["is_control_domain"]:
            return ref, vm
    raise AssertionError("the scenario has no running VM")


async def _connect(
    url: str, target: str, session: str, *, cookie: bool
) -> tuple[trio.abc.Stream, bytes]:
    parts = urlsplit(url)
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    if cookie:
        head = f"CONNECT /console?{target} HTTP/1.0\r\nHost: {parts.netloc}\r\nCookie: session_id={session}\r\n\r\n"
    else:
        head = f"CONNECT /console?{target}&session_id={session} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n"
    await stream.send_all(head.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = await stream.receive_some(4096)
        if not data:
            break
        answer += data
    return stream, answer


def _host_url(sim_pool, host_ref: str) -> str:
    return sim_pool.host_urls[sim_pool.pool.host_refs.index(host_ref)]


@pytest.mark.parametrize("by", ["vm_ref", "console_uuid", "vm_uuid"])
async def test_vnc_client_reads_the_vm_screen_and_types(xenapi, sim_pool, by):
    vm_ref, vm = await _running_vm(xenapi, sim_pool)
    console_ref = vm["consoles"][0]
    target = {
        "vm_ref": f"ref={vm_ref}",
        "console_uuid": f"uuid={sim_pool.pool.db.get('console', console_ref)['uuid']}",
        "vm_uuid": f"uuid={vm['uuid']}",
    }[by]
    url = _host_url(sim_pool, vm["resident_on"])
    with trio.fail_after(20):
        stream, answer = await _connect(url, target, await _session(xenapi), cookie=by != "vm_ref")
        async with stream:
            assert answer.startswith(CONNECT_REPLY)
            client = MiniRfbClient(stream, answer[len(CONNECT_REPLY) :])
            await client.handshake()
            assert client.width > 0 and client.height > 0
            assert client.name == vm["name_label"]
            assert await client.update(incremental=False) > 0
            assert client.distinct_colours() >= 3  # background, text, title bar: not blank
            before = bytes(client.pixels)
            for ch in "ls":
                await client.key(ord(ch))
            await client.key(0xFF0D)  # Return
            changed = 0
            while changed == 0:  # incremental updates arrive once the keys changed the screen
                changed += await client.update(incremental=True)
            assert bytes(client.pixels) != before


async def test_console_of_a_vm_on_another_host_is_refused(xenapi, sim_pool):
    vm_ref, vm = await _running_vm(xenapi, sim_pool)
    other = next(
        u
        for r, u in zip(sim_pool.pool.host_refs, sim_pool.host_urls, strict=True)
        if r != vm["resident_on"]
    )
    stream, answer = await _connect(other, f"ref={vm_ref}", await _session(xenapi), cookie=True)
    await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 404")


async def test_console_of_a_halted_vm_is_refused(xenapi, sim_pool):
    records = await xenapi.call("VM.get_all_records")
    halted = next(
        ref for ref, vm in records.items()
        if vm["power_state"] == "Halted" and not vm["is_a_template"] and not vm["is_control_domain"]
    )  # fmt: skip
    stream, answer = await _connect(
        sim_pool.master_url, f"ref={halted}", await _session(xenapi), cookie=True
    )
    await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 4")


async def test_console_without_session_is_401(xenapi, sim_pool):
    vm_ref, vm = await _running_vm(xenapi, sim_pool)
    stream, answer = await _connect(
        _host_url(sim_pool, vm["resident_on"]), f"ref={vm_ref}", "OpaqueRef:bad", cookie=True
    )
    await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 401")
    assert b"WWW-Authenticate: Basic" in answer


async def test_two_viewers_share_the_screen(xenapi, sim_pool):
    vm_ref, vm = await _running_vm(xenapi, sim_pool)
    url = _host_url(sim_pool, vm["resident_on"])
    session = await _session(xenapi)
    with trio.fail_after(20):
        first_stream, first_answer = await _connect(url, f"ref={vm_ref}", session, cookie=True)
        second_stream, second_answer = await _connect(url, f"ref={vm_ref}", session, cookie=True)
        async with first_stream, second_stream:
            first = MiniRfbClient(first_stream, first_answer[len(CONNECT_REPLY) :])
            second = MiniRfbClient(second_stream, second_answer[len(CONNECT_REPLY) :])
            await first.handshake()
            await second.handshake()
            await first.update(incremental=False)
            await second.update(incremental=False)
            await first.key(ord("x"))
            assert await second.update(incremental=True) > 0  # typed in one, seen in the other


async def test_garbage_after_connect_closes_only_that_console(xenapi, sim_pool, http_request):
    vm_ref, vm = await _running_vm(xenapi, sim_pool)
    url = _host_url(sim_pool, vm["resident_on"])
    stream, answer = await _connect(url, f"ref={vm_ref}", await _session(xenapi), cookie=True)
    async with stream:
        assert answer.startswith(CONNECT_REPLY)
        await stream.send_all(b"HELLO THIS IS NOT RFB\n" * 3)
        with trio.fail_after(10):
            data = b""
            while True:
                try:
                    chunk = await stream.receive_some(4096)
                except trio.BrokenResourceError:
                    break
                if not chunk:
                    break
                data += chunk
    reply = await http_request("GET", url + "/nothing-here")
    assert reply.status == 404  # the host still serves


class _WebSocketAsStream:
    """trio-websocket (an independent client library) seen as the stream MiniRfbClient reads."""

    def __init__(self, ws) -> None:
        self.ws = ws

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        message = await self.ws.get_message()
        return message if isinstance(message, bytes) else message.encode()

    async def send_all(self, data: bytes) -> None:
        await self.ws.send_message(bytes(data))


async def test_websocket_console_variant(xenapi, sim_pool):
    from trio_websocket import open_websocket_url

    vm_ref, vm = await _running_vm(xenapi, sim_pool)
    url = _host_url(sim_pool, vm["resident_on"]).replace("http://", "ws://")
    session = await _session(xenapi)
    with trio.fail_after(20):
        async with open_websocket_url(
            f"{url}/console?ref={vm_ref}&session_id={session}", subprotocols=["binary"]
        ) as ws:
            assert ws.subprotocol == "binary"
            client = MiniRfbClient(_WebSocketAsStream(ws))
            await client.handshake()
            assert client.name == vm["name_label"]
            assert await client.update(incremental=False) > 0
            await client.key(ord("a"))
            assert await client.update(incremental=True) > 0
