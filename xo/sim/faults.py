"""Model side of fault injection (SIM-NET exposes it over HTTP and acts on sockets).

State read by the network layer: ``host_down`` (refuse connections), ``latency`` (seconds added to
every RPC), ``bandwidth`` (bytes/s for streams), ``corrupt_next_export`` and
``truncate_next_export``. Actions on the model: :meth:`promote`, :meth:`invalidate_sessions`,
:meth:`cut_event_connections` (runs the hooks the network layer registered in ``cut_hooks``),
:meth:`stop_host`, :meth:`start_host`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xo.sim.errors import XapiFailure

if TYPE_CHECKING:
    from xo.sim.pool import SimPool


class Faults:
    def __init__(self, pool: SimPool) -> None:
        self._pool = pool
        self.host_down: set[str] = set()
        self.latency: float = 0.0
        self.bandwidth: float | None = None
        self.corrupt_next_export: bool = False
        self.truncate_next_export: int | None = None
        # Called by cut_event_connections(); each returns how many connections it cut.
        self.cut_hooks: list[Callable[[], int]] = []
        # Called with (host_ref, up: bool) by stop_host/start_host (the network layer closes or
        # reopens that host's listener).
        self.host_hooks: list[Callable[[str, bool], None]] = []

    def promote(self, host_ref: str) -> None:
        """Make ``host_ref`` the pool master; the old master then answers HOST_IS_SLAVE."""
        self._pool.db.get("host", host_ref)
        self._pool.set_master(host_ref)

    def invalidate_sessions(self) -> int:
        """Forget every session: the next call with any of them gets SESSION_INVALID."""
        refs = self._pool.sessions.clear()
        self._pool.events.interrupt(lambda s: XapiFailure("SESSION_INVALID", s))
        for ref in refs:
            self._pool.events.forget_session(ref)
        return len(refs)

    def cut_event_connections(self) -> int:
        return sum(hook() for hook in list(self.cut_hooks))

    def stop_host(self, host_ref: str) -> None:
        self._pool.db.get("host", host_ref)
        self.host_down.add(host_ref)
        self._pool.set_host_live(host_ref, False)
        for hook in list(self.host_hooks):
            hook(host_ref, False)

    def start_host(self, host_ref: str) -> None:
        self._pool.db.get("host", host_ref)
        self.host_down.discard(host_ref)
        self._pool.set_host_live(host_ref, True)
        for hook in list(self.host_hooks):
            hook(host_ref, True)
