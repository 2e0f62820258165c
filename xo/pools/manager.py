"""`PoolManager`: the pools nursery and one `PoolConnection` per connected server entry.

The manager owns the nursery every connection runs in (`run`); `connect` starts a connection,
`disconnect` cancels it and withdraws its objects from the store. It also keeps the pool ->
server claims so that a second entry for an already connected pool is refused ("this pool is
already connected") instead of publishing the same objects twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from xo.objects.store import ObjectStore
from xo.xapi.client import XapiClient
from xo.xapi.errors import XapiTimeout
from xo.xapi.timeouts import DEFAULT_TIMEOUTS, Timeouts
from xo.xapi.transport import Transport

from .backoff import Backoff
from .connection import PoolConnection, is_permanent
from .entry import ServerEntry
from .errors import PoolAlreadyConnected, PoolNotConnected
from .status import ServerStatus

log = logging.getLogger(__name__)

TransportFactory = Callable[[ServerEntry], Transport]


class PoolManager:
    def __init__(
        self,
        objects: ObjectStore,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        transport_factory: TransportFactory | None = None,
        backoff_factory: Callable[[], Backoff] = Backoff,
    ) -> None:
        self.objects = objects
        self.timeouts = timeouts
        self._transport_factory = transport_factory
        self._backoff_factory = backoff_factory
        self._nursery: trio.Nursery | None = None
        self._connections: dict[str, PoolConnection] = {}
        self._claims: dict[str, str] = {}  # pool id -> server id
        self._changed = trio.Event()

    # -- lifetime -------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the pools nursery; ``started()`` once connections can be made."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None

    # -- connections ----------------------------------------------------------------------------

    def connect(self, entry: ServerEntry) -> None:
        """Start connecting ``entry`` (no-op if the same entry is already running; a changed
        entry replaces the running connection)."""
        if self._nursery is None:
            raise RuntimeError("PoolManager.run() is not running")
        current = self._connections.get(entry.id)
        if current is not None and not current.stopped.is_set():
            if current.entry == entry:
                return
            self._stop(current)
        connection = PoolConnection(
            entry,
            self.objects,
            claim_pool=self._claim,
            timeouts=self.timeouts,
            transport=self._transport_factory(entry) if self._transport_factory else None,
            backoff=self._backoff_factory(),
            on_change=self._notify,
        )
        self._connections[entry.id] = connection
        self._nursery.start_soon(self._run_connection, connection)

    async def connect_and_wait(self, entry: ServerEntry, timeout: float = 30) -> None:  # noqa: ASYNC109 (contract)
        """`connect`, then wait for the first full load.

        Raises the first attempt's error (XapiError such as SESSION_AUTHENTICATION_FAILED,
        XapiUnreachable, PoolAlreadyConnected). After a transient error the connection keeps
        retrying in the background; after a permanent one it is stopped.
        """
        self.connect(entry)
        connection = self._connections[entry.id]
        with trio.move_on_after(timeout):
            error = await connection.wait_first_attempt()
            if error is None:
                return
            if is_permanent(error):
                await self.disconnect(entry.id, keep_status=True)
            raise error
        raise XapiTimeout(f"no full load within {timeout} s", entry.host)

    async def disconnect(self, server_id: str, *, keep_status: bool = False) -> None:
        """Stop the connection and withdraw its objects from the store."""
        connection = self._connections.get(server_id)
        if connection is None:
            return
        self._stop(connection)
        await connection.stopped.wait()
        if not keep_status and self._connections.get(server_id) is connection:
            del self._connections[server_id]
            self._notify()

    def _stop(self, connection: PoolConnection) -> None:
        connection.stop()
        self._release(connection)

    async def _run_connection(self, connection: PoolConnection) -> None:
        try:
            await connection.run()
        finally:
            self._release(connection)

    def _release(self, connection: PoolConnection) -> None:
        server_id = connection.entry.id
        for pool_id, owner in list(self._claims.items()):
            if owner == server_id and self._connections.get(server_id) in (connection, None):
                del self._claims[pool_id]
        if self._connections.get(server_id) in (connection, None):
            self.objects.remove_pool(server_id)

    def _claim(self, server_id: str, pool_id: str) -> None:
        owner = self._claims.get(pool_id)
        if owner is not None and owner != server_id:
            raise PoolAlreadyConnected(pool_id, owner)
        self._claims[pool_id] = server_id

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # -- queries --------------------------------------------------------------------------------

    def status(self, server_id: str) -> ServerStatus:
        connection = self._connections.get(server_id)
        if connection is None:
            return ServerStatus()
        return connection.status()

    async def wait_status(
        self, server_id: str, predicate: Callable[[ServerStatus], bool]
    ) -> ServerStatus:
        """Wait until ``predicate(status(server_id))`` holds (put a deadline around it)."""
        while True:
            changed = self._changed
            status = self.status(server_id)
            if predicate(status):
                return status
            await changed.wait()

    def statuses(self) -> dict[str, ServerStatus]:
        return {server_id: c.status() for server_id, c in self._connections.items()}

    def server_for_pool(self, pool_id: str) -> str | None:
        return self._claims.get(pool_id)

    def xapi_for_pool(self, pool_id: str) -> XapiClient:
        """The client of the connected server of ``pool_id``; raises PoolNotConnected."""
        server_id = self._claims.get(pool_id)
        connection = self._connections.get(server_id) if server_id else None
        if connection is None or connection.state != "connected":
            raise PoolNotConnected(pool_id)
        return connection.client

    def read_only(self, pool_id: str) -> bool:
        """Whether writes to ``pool_id`` must be refused (its server entry is read-only)."""
        server_id = self._claims.get(pool_id)
        connection = self._connections.get(server_id) if server_id else None
        return connection is not None and connection.entry.read_only
