"""The ObjectStore's change feed: one coalescing queue per subscriber.

A subscriber does not receive every change: it receives, per batch, the *latest* state of each
object that changed since its previous batch. So its memory is bounded by the number of distinct
ids that changed (never by the event rate), and a slow subscriber never slows the publisher or
the other subscribers: publishing is a synchronous dict update per subscriber plus a wake-up.

Rules (XO's collection batching): a change is an *enter* (the whole object) or an *exit*; an
object added then removed before the subscriber looks cancels out; removed then re-added is an
enter. Each subscriber's view is "the store when it subscribed" plus its batches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import trio

_EXIT = object()  # pending marker: the object left the store


@dataclass(slots=True)
class Batch:
    """Changes since the subscriber's previous batch: ``enter`` whole objects, ``exit`` ids."""

    enter: dict[str, dict[str, Any]] = field(default_factory=dict)
    exit: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.enter or self.exit)


# One published change: (id, object or None for an exit, whether the id existed before).
Change = tuple[str, "dict[str, Any] | None", bool]


class Subscription:
    """A subscriber's coalescing queue. Use as a context manager, or call ``close()``."""

    def __init__(self, unsubscribe: Any) -> None:
        self._unsubscribe = unsubscribe
        self._pending: dict[str, Any] = {}  # id -> latest object, or _EXIT
        self._fresh: set[str] = set()  # pending ids the subscriber has never seen
        self._wakeup = trio.Event()
        self._closed = False

    # -- publisher side (synchronous, never blocks) ---------------------------------------------

    def _push(self, changes: Iterable[Change]) -> None:
        pending = self._pending
        fresh = self._fresh
        for object_id, obj, existed in changes:
            if object_id not in pending and not existed:
                fresh.add(object_id)
            if obj is None:
                if object_id in fresh:  # entered and left between two batches: nothing to say
                    del pending[object_id]
                    fresh.discard(object_id)
                else:
                    pending[object_id] = _EXIT
            else:
                pending[object_id] = obj
        if pending:
            self._wakeup.set()

    # -- subscriber side ------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        """Distinct ids waiting for this subscriber (the queue's only memory cost)."""
        return len(self._pending)

    def get_batch_nowait(self) -> Batch:
        """Take whatever is pending (possibly an empty batch)."""
        if self._closed:
            raise trio.ClosedResourceError("subscription closed")
        batch = Batch()
        for object_id, value in self._pending.items():
            if value is _EXIT:
                batch.exit.add(object_id)
            else:
                batch.enter[object_id] = value
        self._pending = {}
        self._fresh = set()
        if self._wakeup.is_set():
            self._wakeup = trio.Event()
        return batch

    async def next_batch(self) -> Batch:
        """Wait until something changed, then take all pending changes as one batch."""
        while True:
            if self._closed:
                raise trio.ClosedResourceError("subscription closed")
            if self._pending:
                return self.get_batch_nowait()
            await self._wakeup.wait()
            if not self._pending and self._wakeup.is_set():
                self._wakeup = trio.Event()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending = {}
            self._fresh = set()
            self._unsubscribe(self)
            self._wakeup.set()  # a task blocked in next_batch wakes and sees the closure

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
