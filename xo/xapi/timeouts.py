"""Timeout phases of the XAPI client, as one value (like httpx's `Timeout`).

Each phase is applied as a cancel scope around the matching piece of I/O, never passed down as a
parameter. ``None`` disables a phase.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Timeouts:
    # TCP connect + TLS handshake. Hosts on a LAN answer in milliseconds; 10 s leaves room for a
    # busy dom0 without hiding a dead host for long (the master failover walks hosts one by one).
    connect: float | None = 10.0
    # One synchronous RPC round trip. Long operations go through Async.* + task waiting, so this
    # only bounds calls like get_all_records on a 30,000-VM pool (a few seconds on real hosts).
    call: float | None = 120.0
    # event.from is sent with a 60.1 s server-side timeout; the client gives up at 66 s, as
    # xen-api does, so a silently dead master is noticed within about a minute.
    event_from: float | None = 66.0
    # Streams (export/import/console): longest silence tolerated between two chunks. xapi sends
    # keep-alive chunks every 5 s during exports; 5 minutes tolerates slow storage.
    stream_idle: float | None = 300.0

    def with_(self, **changes: float | None) -> Timeouts:
        return replace(self, **changes)  # type: ignore[arg-type]


DEFAULT_TIMEOUTS = Timeouts()
