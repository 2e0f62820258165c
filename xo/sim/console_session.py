"""The text console of each simulated VM, shared by every viewer connected to it.

A real VM has one framebuffer whatever the number of VNC clients: what one viewer types, all
see. `ConsoleSessions` keeps one `ConsoleSession` (a `TextScreen` showing the VM's name and a
shell) per console ref, so a VM that reboots (new console records) starts with a fresh screen.
Each viewer has its own pending region list: a change is recorded for every viewer, and a viewer
sends it when its client asks for an update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from xo.formats.textscreen import TextScreen

Region = tuple[int, int, int, int]  # x, y, width, height in pixels


@dataclass(eq=False)  # identity semantics: viewers live in a set
class ConsoleViewer:
    """What one connected client still has to be sent."""

    pending: list[Region] = field(default_factory=list)
    changed: trio.Event = field(default_factory=trio.Event)

    def add(self, regions: list[Region]) -> None:
        if regions:
            self.pending.extend(regions)
            self.changed.set()


class ConsoleSession:
    """One VM's screen and its viewers."""

    def __init__(self, vm_name: str) -> None:
        self.screen = TextScreen(vm_name)
        self.screen.take_dirty()  # the initial drawing is sent as a full update instead
        self._viewers: set[ConsoleViewer] = set()

    @property
    def width(self) -> int:
        return self.screen.width

    @property
    def height(self) -> int:
        return self.screen.height

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def attach(self) -> ConsoleViewer:
        viewer = ConsoleViewer()
        self._viewers.add(viewer)
        return viewer

    def detach(self, viewer: ConsoleViewer) -> None:
        self._viewers.discard(viewer)

    def key_down(self, keysym: int) -> None:
        """A key pressed in any viewer: the screen changes for all of them."""
        self.screen.type_key(keysym)
        regions = self.screen.take_dirty()
        for viewer in self._viewers:
            viewer.add(regions)

    def pixels(self, region: Region) -> bytes:
        return self.screen.region(*region)


class ConsoleSessions:
    """Console ref -> session, for the consoles of one pool."""

    def __init__(self) -> None:
        self._sessions: dict[str, ConsoleSession] = {}

    def get(self, console_ref: str, vm_name: str, *, live_consoles: set[str]) -> ConsoleSession:
        """The session of `console_ref`, created on first use. Sessions of consoles that no
        longer exist (`live_consoles` is every current console ref) are dropped on the way."""
        for ref in [r for r in self._sessions if r not in live_consoles and r != console_ref]:
            if not self._sessions[ref].viewers:
                del self._sessions[ref]
        session = self._sessions.get(console_ref)
        if session is None:
            session = self._sessions[console_ref] = ConsoleSession(vm_name)
        return session

    def __len__(self) -> int:
        return len(self._sessions)
