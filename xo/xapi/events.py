"""Following a pool's objects: one full load, then `event.from` batches.

`EventWatcher.load()` takes the token first (``event.inject("pool", poolRef)``) and only then
reads every record with ``<Class>.get_all_records``, so a change made during the load comes back
as an event instead of being lost. `EventWatcher.next_batch()` long-polls ``event.from(classes,
token, 60.1)`` and returns the events (class names mapped back to the watched spelling).

Continuity is checked, never assumed: `ContinuityLost` is raised when the session changed since
the load (re-login after SESSION_INVALID, a new master) or XAPI says EVENTS_LOST / cannot parse
the token; the caller then starts over with a full load. `follow_events` is that loop.

Deletions can be lost silently by XAPI (bounded queue); ``valid_ref_counts.task`` is compared with
the tasks we know and the task table is re-read when they differ (as xen-api does), the
difference being returned as synthetic events.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

import trio

from .client import XapiClient
from .errors import XapiError

log = logging.getLogger(__name__)

# Server-side long-poll duration: xen-api's value, a float as XML-RPC requires.
EVENT_FROM_TIMEOUT = 60.1
# get_all_records calls in flight during a load: leaves room under the client's limit of 20 for
# other calls; big classes (VM, VBD...) dominate anyway.
LOAD_CONCURRENCY = 8
# Asked first in a load, biggest first: the host encodes the big replies while the small ones
# are on their way, and the client decodes them while the host encodes the rest, so that what
# arrives last (small classes) leaves little to do after it.
BIG_CLASSES = ("VM", "VBD", "VDI", "VIF", "VM_metrics", "VM_guest_metrics", "message", "task")
RESTART_CODES = frozenset(
    {"EVENTS_LOST", "EVENT_FROM_TOKEN_PARSE_FAILURE", "SESSION_INVALID", "HOST_IS_SLAVE"}
)

Records = dict[str, dict[str, dict[str, Any]]]
Event = dict[str, Any]


class ContinuityLost(Exception):
    """Events can no longer be trusted to follow the last load: reload everything."""


class EventWatcher:
    def __init__(self, client: XapiClient, classes: Sequence[str]) -> None:
        self.client = client
        self.wanted = tuple(classes)
        self.classes: tuple[str, ...] = ()  # wanted classes this host serves
        self.pool_ref: str | None = None
        self._canonical: dict[str, str] = {}
        self._token: str | None = None
        self._generation = -1
        self._task_refs: set[str] = set()

    async def load(self) -> Records:
        """Full load: token first, then every record of every watched class."""
        records: Records = {cls: {} for cls in self.wanted}

        def collect(cls: str, chunk: dict[str, dict[str, Any]]) -> None:
            records[cls].update(chunk)

        await self.load_into(collect)
        return {cls: records[cls] for cls in self.classes}

    async def load_into(self, sink: Callable[[str, dict[str, dict[str, Any]]], None]) -> None:
        """Full load, handing the records to ``sink(cls, {ref: record})`` a slice at a time
        (several calls per class; the dicts are the sink's to keep or drop). Nothing is kept
        here, so the decoded records of a class never all exist at once (see
        :mod:`xo.xapi.record_slices`). ``sink`` runs with the cyclic GC paused."""
        client = self.client
        methods = await client.call("system.listMethods")
        served = {m[: -len(".get_all_records")] for m in methods if m.endswith(".get_all_records")}
        self.classes = tuple(c for c in self.wanted if c in served)
        missing = [c for c in self.wanted if c not in served]
        if missing:
            log.info("%s does not serve %s", client.origin.netloc, ", ".join(missing))
        self._canonical = {c.lower(): c for c in self.classes}
        generation = client.session_generation
        pools = await client.call("pool.get_all")
        if not pools:
            raise XapiError("INTERNAL_ERROR", ["no pool object"])
        self.pool_ref = pools[0]
        token = await client.call("event.inject", "pool", self.pool_ref)
        limiter = trio.CapacityLimiter(LOAD_CONCURRENCY)
        task_refs: set[str] = set()

        async def load_class(cls: str) -> None:
            async with limiter:
                slices = await client.call_sliced(f"{cls}.get_all_records")
                # Decoding and trimming allocate millions of acyclic objects: with the
                # collector on, the collections this triggers made the load 3-4x slower.
                was_enabled = gc.isenabled()
                gc.disable()
                try:
                    for chunk in slices:
                        if cls == "task":
                            task_refs.update(chunk)
                        sink(cls, chunk)
                finally:
                    if was_enabled:
                        gc.enable()
                del slices

        try:
            async with trio.open_nursery() as nursery:
                for cls in sorted(self.classes, key=_load_order):
                    nursery.start_soon(load_class, cls)
        except BaseExceptionGroup as group:
            # callers handle XapiException & co, not groups: the first failure speaks for all
            first = _first_error(group)
            if first is None:
                raise
            raise first from None
        if client.session_generation != generation:
            raise ContinuityLost("session changed during the load")
        self._token = str(token)
        self._generation = generation
        self._task_refs = task_refs

    async def next_batch(self) -> list[Event]:
        """Events since the previous batch (may be empty after the 60 s long poll)."""
        if self._token is None:
            raise RuntimeError("load() first")
        client = self.client
        try:
            result = await client.call_once(
                "event.from", list(self.classes), self._token, EVENT_FROM_TIMEOUT
            )
        except XapiError as error:
            if error.code in RESTART_CODES:
                raise ContinuityLost(error.code) from error
            raise
        if client.session_generation != self._generation:
            raise ContinuityLost("new session (re-login or new master)")
        self._token = str(result["token"])
        events = self._normalize(result.get("events", ()))
        counts = result.get("valid_ref_counts") or {}
        if (
            "task" in self._canonical
            and "task" in counts
            and counts["task"] != len(self._task_refs)
        ):
            events += await self._resync_tasks()
        return events

    def _normalize(self, raw: Iterable[Event]) -> list[Event]:
        events: list[Event] = []
        for event in raw:
            cls = self._canonical.get(str(event.get("class", "")).lower())
            if cls is None:
                continue
            event = {**event, "class": cls}
            if cls == "task":
                self._track_task(event)
            events.append(event)
        return events

    def _track_task(self, event: Event) -> None:
        ref = event["ref"]
        if event["operation"] == "del":
            self._task_refs.discard(ref)
            self.client.tasks.feed(ref, None)
        else:
            self._task_refs.add(ref)
            self.client.tasks.feed(ref, event.get("snapshot"))

    async def _resync_tasks(self) -> list[Event]:
        records: dict[str, dict[str, Any]] = await self.client.call("task.get_all_records")
        events: list[Event] = []
        for ref in self._task_refs - records.keys():
            events.append({"class": "task", "operation": "del", "ref": ref})
        for ref, record in records.items():
            operation = "mod" if ref in self._task_refs else "add"
            events.append({"class": "task", "operation": operation, "ref": ref, "snapshot": record})
        for event in events:
            self._track_task(event)
        log.debug("task table re-read: %d tasks", len(records))
        return events


def _load_order(cls: str) -> int:
    try:
        return BIG_CLASSES.index(cls)
    except ValueError:
        return len(BIG_CLASSES)


def _first_error(group: BaseExceptionGroup) -> Exception | None:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found = _first_error(exc)
            if found is not None:
                return found
        elif isinstance(exc, Exception):
            return exc
    return None


class LoadTarget(Protocol):
    """Where `follow_events` puts a full load, a slice at a time (see `EventWatcher.load_into`)."""

    def begin_load(self) -> None: ...
    def add_records(self, cls: str, records: dict[str, dict[str, Any]]) -> None: ...
    async def end_load(self) -> None: ...


async def follow_events(
    client: XapiClient,
    classes: Sequence[str],
    on_load: Callable[[Records], Awaitable[None]] | LoadTarget,
    on_batch: Callable[[list[Event]], Awaitable[None]],
) -> None:
    """Load, then follow events forever; reload from the top whenever continuity is lost.

    ``on_load`` gets every record of a load at once, or is a `LoadTarget` fed slice by slice.
    Returns never; XapiUnreachable / other XapiErrors propagate (the caller reconnects).
    """
    watcher = EventWatcher(client, classes)
    while True:
        try:
            if callable(on_load):
                await on_load(await watcher.load())
            else:
                on_load.begin_load()
                await watcher.load_into(on_load.add_records)
                await on_load.end_load()
            while True:
                events = await watcher.next_batch()
                if events:
                    await on_batch(events)
        except ContinuityLost as reason:
            log.info("%s: reloading (%s)", client.origin.netloc, reason)
