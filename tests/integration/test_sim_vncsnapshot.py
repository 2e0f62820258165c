"""A real VNC client (Debian's `vncsnapshot`, TightVNC/RealVNC 3.3 code) reads a VM's screen
through `CONNECT /console`.

vncsnapshot only speaks plain TCP VNC, so the test runs a small bridge: a local listener that,
per connection, opens `CONNECT /console?ref=<console>` with a session on the VM's host, checks
xapi's `HTTP/1.1 200 OK` and then pipes bytes both ways (what XO's console proxy does with a
WebSocket instead of a TCP socket). The JPEG it writes is decoded with `djpeg` and compared with
the framebuffer the simulator serves.
"""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path
from urllib.parse import urlsplit

import trio

VNCSNAPSHOT = "/usr/bin/vncsnapshot"
DJPEG = "/usr/bin/djpeg"
CONNECT_OK = b"HTTP/1.1 200 OK\r\n"
VNC_BASE_PORT = 5900  # vncsnapshot takes host:display, display = port - 5900


async def _open_console(host_url: str, console_ref: str, session: str) -> tuple[trio.SocketStream, bytes]:  # fmt: skip
    parts = urlsplit(host_url)
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    await stream.send_all(
        f"CONNECT /console?ref={console_ref}&session_id={session} HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        data = await stream.receive_some(4096)
        assert data, f"console closed after {head!r}"
        head += data
    assert head.startswith(CONNECT_OK), head
    return stream, head.split(b"\r\n\r\n", 1)[1]


async def _pipe(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await sink.aclose()


class ConsoleBridge:
    """Plain TCP VNC on 127.0.0.1:<port> -> CONNECT /console on the VM's host."""

    def __init__(self, host_url: str, console_ref: str, session: str) -> None:
        self.target = (host_url, console_ref, session)
        self.connections = 0

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        assert port > VNC_BASE_PORT  # ephemeral ports are: a display number exists
        task_status.started(port)
        await trio.serve_listeners(self._bridge, listeners)

    async def _bridge(self, client: trio.SocketStream) -> None:
        self.connections += 1
        console, leftover = await _open_console(*self.target)
        async with client, console:
            if leftover:
                await client.send_all(leftover)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_pipe, client, console)
                nursery.start_soon(_pipe, console, client)


def _read_ppm(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a binary PPM (P6, maxval 255)."""
    fields: list[bytes] = []
    at = 0
    while len(fields) < 4:
        while data[at : at + 1].isspace():
            at += 1
        if data[at : at + 1] == b"#":
            at = data.index(b"\n", at)
            continue
        end = at
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[at:end])
        at = end
    magic, width, height, maxval = fields
    assert magic == b"P6" and maxval == b"255"
    return int(width), int(height), data[at + 1 :]


async def test_vncsnapshot_captures_the_vm_screen_through_connect_console(
    sim_pool, xenapi, tmp_path: Path
) -> None:  # noqa: ANN001
    db = sim_pool.pool.db
    vm_ref, vm = next(
        (ref, vm) for ref, vm in db.all("VM").items()
        if vm["power_state"] == "Running" and not vm["is_control_domain"]
    )  # fmt: skip
    console_ref = next(r for r in vm["consoles"] if db.get("console", r)["protocol"] == "rfb")
    host_index = sim_pool.pool.host_refs.index(vm["resident_on"])
    host_url = sim_pool.host_urls[host_index]
    session = xenapi.session._session
    snapshot = tmp_path / "screen.jpg"
    bridge = ConsoleBridge(host_url, console_ref, session)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(bridge.serve)
            result = await trio.run_process(
                [VNCSNAPSHOT, "-quiet", "-allowblank", f"127.0.0.1:{port - VNC_BASE_PORT}",
                 str(snapshot)],
                capture_stdout=True, capture_stderr=True, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr.decode(errors="replace")
            nursery.cancel_scope.cancel()
        decoded = await trio.run_process([DJPEG, "-pnm", str(snapshot)], capture_stdout=True)
    assert bridge.connections == 1
    width, height, rgb = _read_ppm(decoded.stdout)

    # the framebuffer the simulator served to that viewer (every viewer shares the VM's screen)
    live = set(db.all("console"))
    screen = sim_pool.hosts[host_index].consoles.get(console_ref, vm["name_label"], live_consoles=live)
    assert (width, height) == (screen.width, screen.height) == (960, 500)
    bgrx = screen.pixels((0, 0, width, height))
    expected = bytearray(width * height * 3)
    expected[0::3], expected[1::3], expected[2::3] = bgrx[2::4], bgrx[1::4], bgrx[0::4]

    # JPEG is lossy: compare with a tolerance, on every pixel
    assert len(rgb) == len(expected)
    total = sum(abs(a - b) for a, b in zip(rgb, expected, strict=True))
    assert total / len(rgb) < 2, total / len(rgb)  # (quality 100: about 0.002 in practice)
    # not blank: black background, light text, and a title bar with white text on blue
    luma = [sum(rgb[i : i + 3]) // 3 for i in range(0, len(rgb), 3)]
    assert sum(v < 40 for v in luma) > width * height // 2  # mostly the dark background
    assert sum(v > 150 for v in luma) > 1000  # text
    title = [rgb[i : i + 3] for i in range(0, width * 20 * 3, 3)]
    assert sum(p[2] > 100 and p[0] < 80 for p in title) > width * 20 // 2  # blue bar
    assert sum(min(p) > 200 for p in title) > 200  # white title text
    # the title row really is the VM's name: it matches the simulator's rendering closely
    title_error = sum(abs(a - b) for a, b in zip(rgb[: width * 60], expected[: width * 60], strict=True))
    assert title_error / (width * 60) < 12
    # the session stays valid: the bridge was a real client of the API session
    reply = await trio.to_thread.run_sync(
        lambda: xmlrpc.client.ServerProxy(sim_pool.master_url).VM.get_name_label(session, vm_ref)
    )
    assert reply["Value"] == vm["name_label"]
