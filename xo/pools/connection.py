"""`PoolConnection`: one server entry kept connected, its objects published into the store.

Loop, in the connection's own nursery, until cancelled:

1. log in (the client follows HOST_IS_SLAVE and tries every known pool member);
2. full load (token first) -> `PoolRecords.load` -> `ObjectStore.replace_pool`, which publishes
   only the differences, so a reload after a reconnect or a new master costs clients nothing
   when nothing changed;
3. follow events -> `PoolRecords.apply_events` -> `ObjectStore.apply`, one publication per batch;
4. on failure: status ``disconnected`` with the error, wait (capped exponential backoff), retry.
   Errors that retrying cannot fix (wrong password, pool already connected through another
   entry) stop the loop instead.

The members' addresses (``host.address``) are kept from the records so the client knows where to
look for the master when the current one stops answering.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import trio

from xo.objects.pool_records import PoolRecords
from xo.objects.store import ObjectStore
from xo.xapi.client import XapiClient
from xo.xapi.errors import XapiError, XapiException
from xo.xapi.events import Event, follow_events
from xo.xapi.timeouts import DEFAULT_TIMEOUTS, Timeouts
from xo.xapi.transport import Transport

from .backoff import Backoff
from .entry import ServerEntry
from .errors import PoolAlreadyConnected, PoolSyncError
from .memory import (
    AFTER_LOAD_TRIM_DELAY,
    TRACEMALLOC_DELAY,
    install_gc_log,
    release_free_memory,
    tracemalloc_report_path,
    write_tracemalloc_report,
)
from .status import ServerStatus, State, error_dict

log = logging.getLogger(__name__)

# XAPI errors that a retry cannot fix: the entry must change first.
PERMANENT_CODES = frozenset(
    {"SESSION_AUTHENTICATION_FAILED", "RBAC_PERMISSION_DENIED", "PERMISSION_DENIED"}
)
# Shielded cleanup (logout) when the connection stops.
CLOSE_TIMEOUT = 5.0

ClaimPool = Callable[[str, str], None]  # (server_id, pool_id); raises PoolAlreadyConnected


def is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, PoolAlreadyConnected):
        return True
    return isinstance(exc, XapiError) and exc.code in PERMANENT_CODES


class PoolConnection:
    def __init__(
        self,
        entry: ServerEntry,
        objects: ObjectStore,
        *,
        claim_pool: ClaimPool | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        transport: Transport | None = None,
        backoff: Backoff | None = None,
        classes: Sequence[str] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.entry = entry
        self.objects = objects
        self.client = XapiClient(
            entry.host,
            entry.username,
            entry.password,
            allow_unauthorized=entry.allow_unauthorized,
            timeouts=timeouts,
            transport=transport,
        )
        if entry.http_proxy:
            log.warning("server %s: http_proxy is not supported, connecting directly", entry.id)
        self.classes = tuple(classes or PoolRecords.CLASSES)
        self.backoff = backoff or Backoff()
        self._claim_pool = claim_pool or (lambda server_id, pool_id: None)
        self._on_change = on_change or (lambda: None)
        self._records = PoolRecords()
        self._state: State = "disconnected"
        self._error: BaseException | None = None
        self._pools: dict[str, dict[str, Any]] = {}  # pool ref -> record
        self._hosts: dict[str, dict[str, Any]] = {}  # host ref -> record (uuid, address)
        self._pool_id: str | None = None
        self.cancel_scope = trio.CancelScope()
        self.stopped = trio.Event()  # the run loop ended (cancelled or permanent error)
        self._attempted = trio.Event()  # the first attempt ended (loaded or failed)
        self.first_error: BaseException | None = None
        self.loads = 0  # full loads done (for tests and diagnostics)
        self._nursery: trio.Nursery | None = None
        install_gc_log()

    def __repr__(self) -> str:
        return f"<PoolConnection {self.entry.id} {self._state}>"

    # -- status ---------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def pool_id(self) -> str | None:
        return self._pool_id

    def status(self) -> ServerStatus:
        pool = next(iter(self._pools.values()), None) or {}
        master = self._hosts.get(pool.get("master", ""), {})
        return ServerStatus(
            status=self._state,
            error=error_dict(self._error) if self._error is not None else None,
            pool_id=self._pool_id,
            master_id=master.get("uuid"),
            pool_name_label=pool.get("name_label"),
            pool_name_description=pool.get("name_description"),
            pool_members_addresses=tuple(self.client.pool_addresses),
            read_only=self.entry.read_only,
        )

    async def wait_first_attempt(self) -> BaseException | None:
        """Wait until the first attempt ended; then None if connected now, else the error
        (of the first attempt, or of the latest one when it failed since)."""
        await self._attempted.wait()
        if self._state == "connected":
            return None
        return self._error or self.first_error

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until cancelled (`stop`) or a permanent error."""
        try:
            with self.cancel_scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.start_soon(self._connect_loop)
        finally:
            self._state = "disconnected"
            self._attempted.set()
            self._on_change()
            with trio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await self.client.aclose()
            self.stopped.set()

    def stop(self) -> None:
        self.cancel_scope.cancel()

    async def _connect_loop(self) -> None:
        while True:
            self._state = "connecting"
            self._on_change()
            try:
                await self.client.login()
                await follow_events(self.client, self.classes, self, self._on_batch)
            except (XapiException, PoolAlreadyConnected, PoolSyncError) as exc:
                self._failed(exc)
                if is_permanent(exc):
                    log.warning("server %s: %s (not retrying)", self.entry.id, exc)
                    return
                delay = self.backoff.next()
                log.info("server %s: %s; retrying in %.1f s", self.entry.id, exc, delay)
                await trio.sleep(delay)

    def _failed(self, exc: BaseException) -> None:
        self._state = "disconnected"
        self._error = exc
        if not self._attempted.is_set():
            self.first_error = exc
            self._attempted.set()
        self._on_change()

    # -- publishing -----------------------------------------------------------------------------

    # A full load arrives a slice of records at a time (`follow_events`' LoadTarget): each slice
    # is trimmed and dropped, so the full records of a class never all exist at once.

    def begin_load(self) -> None:
        self._loading_pools: dict[str, dict[str, Any]] = {}
        self._loading_hosts: dict[str, dict[str, Any]] = {}
        self._records.begin_load()

    def add_records(self, cls: str, records: dict[str, dict[str, Any]]) -> None:
        if cls == "pool":
            self._loading_pools.update(records)
        elif cls == "host":
            self._loading_hosts.update(
                (ref, _host_info(r)) for ref, r in records.items() if isinstance(r, dict)
            )
        try:
            self._records.add_records(cls, records)
        except Exception as exc:
            log.exception("server %s: full load failed", self.entry.id)
            raise PoolSyncError(self.entry.id, "records") from exc

    async def end_load(self) -> None:
        self._pools, self._hosts = self._loading_pools, self._loading_hosts
        pool = next(iter(self._pools.values()), None)
        if not isinstance(pool, dict) or not pool.get("uuid"):
            raise XapiError("INTERNAL_ERROR", ["the pool has no pool object"])
        pool_id = str(pool["uuid"])
        self._claim_pool(self.entry.id, pool_id)
        self._pool_id = pool_id
        try:
            objects = self._records.end_load()
            self.objects.replace_pool(self.entry.id, objects)
        except Exception as exc:
            log.exception("server %s: full load failed", self.entry.id)
            raise PoolSyncError(self.entry.id, "records") from exc
        del objects
        release_free_memory()
        if self._nursery is not None:
            self._nursery.start_soon(self._after_load)
        self._update_addresses()
        self.loads += 1
        self._state = "connected"
        self._error = None
        self.backoff.reset()
        self._attempted.set()
        self._on_change()
        log.info("server %s: loaded %d objects", self.entry.id, len(self._records))

    async def _after_load(self) -> None:
        # The first clients are told about every new object right after the load (a
        # notification of tens of MB per client): give those buffers back too.
        await trio.sleep(AFTER_LOAD_TRIM_DELAY)
        release_free_memory()
        report = tracemalloc_report_path()
        if report is not None:
            await trio.sleep(TRACEMALLOC_DELAY)
            write_tracemalloc_report(report, f"server {self.entry.id} load {self.loads}")

    async def _on_batch(self, events: list[Event]) -> None:
        members_changed = False
        for event in events:
            cls = event["class"]
            if cls not in ("pool", "host"):
                continue
            table = self._pools if cls == "pool" else self._hosts
            if event["operation"] == "del":
                table.pop(event["ref"], None)
            elif cls == "pool":
                table[event["ref"]] = event["snapshot"]
            else:
                table[event["ref"]] = _host_info(event["snapshot"])
            members_changed |= cls == "host"
        try:
            upserts, removals = self._records.apply_events(events)
            self.objects.apply(self.entry.id, upserts, removals)
        except Exception as exc:
            log.exception("server %s: event batch failed", self.entry.id)
            raise PoolSyncError(self.entry.id, "events") from exc
        if members_changed:
            self._update_addresses()
        if members_changed or any(event["class"] == "pool" for event in events):
            self._on_change()

    def _update_addresses(self) -> None:
        # The master first: it is where a new session goes when the current host stops answering.
        pool = next(iter(self._pools.values()), {})
        master = pool.get("master")
        refs = sorted(self._hosts, key=lambda ref: (ref != master, ref))
        self.client.set_pool_addresses(
            self._hosts[ref]["address"] for ref in refs if self._hosts[ref].get("address")
        )


def _host_info(record: dict[str, Any]) -> dict[str, Any]:
    return {"uuid": record.get("uuid"), "address": record.get("address")}
