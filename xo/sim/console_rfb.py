"""Serve one VNC client on a byte stream: RFB 3.8 over a VM's shared `ConsoleSession`.

Two tasks per client: the reader feeds bytes to the `RfbServer` state machine (key presses go
to the session, update requests are noted); the writer is the only one writing to the stream
(handshake answers, then a FramebufferUpdate each time the client asked for one and there is
something to show: the whole requested area for a non-incremental request, the regions that
changed since the last update otherwise).
"""

from __future__ import annotations

import logging

import trio

from xo.formats.rfb import FramebufferUpdateRequest, KeyEvent, Rect, RfbError, RfbServer
from xo.sim.console_session import ConsoleSession, ConsoleViewer, Region

log = logging.getLogger(__name__)

RECEIVE_SIZE = 16 * 1024


class _ClientState:
    def __init__(self, session: ConsoleSession) -> None:
        self.server = RfbServer(session.width, session.height, name=session.screen.vm_name)
        self.requested = False
        self.full: Region | None = None


async def serve_rfb(stream: trio.abc.Stream, initial: bytes, session: ConsoleSession) -> None:
    """Run the RFB server until the client leaves or breaks the protocol."""
    viewer = session.attach()
    state = _ClientState(session)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_write_loop, stream, state, session, viewer)
            await _read_loop(stream, initial, state, session, viewer)
            nursery.cancel_scope.cancel()
    except RfbError as exc:
        log.info("console client broke the RFB protocol: %s", exc)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the client left
    finally:
        session.detach(viewer)


async def _read_loop(
    stream: trio.abc.Stream,
    initial: bytes,
    state: _ClientState,
    session: ConsoleSession,
    viewer: ConsoleViewer,
) -> None:
    data: bytes | bytearray = initial
    while True:
        if data:
            for event in state.server.feed(data):
                if isinstance(event, FramebufferUpdateRequest):
                    state.requested = True
                    if not event.incremental:
                        state.full = (event.x, event.y, event.width, event.height)
                elif isinstance(event, KeyEvent) and event.down:
                    session.key_down(event.keysym)
            viewer.changed.set()  # wake the writer: handshake answer or a request to serve
        data = await stream.receive_some(RECEIVE_SIZE)
        if not data:
            return


async def _write_loop(
    stream: trio.abc.Stream, state: _ClientState, session: ConsoleSession, viewer: ConsoleViewer
) -> None:
    await stream.send_all(state.server.data_to_send())  # the ProtocolVersion greeting
    while True:
        await viewer.changed.wait()
        viewer.changed = trio.Event()
        out = state.server.data_to_send()
        if state.server.ready and state.requested and (state.full or viewer.pending):
            if state.full is not None:
                regions = [state.full]
                viewer.pending.clear()
            else:
                regions = viewer.pending[:]
                viewer.pending.clear()
            rects = [
                Rect(x, y, w, h, session.pixels((x, y, w, h)))
                for x, y, w, h in _clip(regions, session)
            ]
            out += state.server.framebuffer_update(rects)
            state.requested = False
            state.full = None
        if out:
            await stream.send_all(out)


def _clip(regions: list[Region], session: ConsoleSession) -> list[Region]:
    clipped = []
    for x, y, w, h in regions:
        x, y = min(max(0, x), session.width), min(max(0, y), session.height)
        w, h = min(w, session.width - x), min(h, session.height - y)
        if w > 0 and h > 0:
            clipped.append((x, y, w, h))
    return clipped
