"""Which objects' rights may have changed when the object graph changes.

Rights are inherited along links (a VM from its host, the host from its pool, a VDI from its SR
or its VMs: :mod:`xo.auth.acl`), so a VM migrating to another host changes the rights on the
VM, its disks, its VIFs, its snapshots... although only the VM object changed. This index
keeps, for every object id, the ids of the objects whose evaluation reads it (reverse links),
and the part of each object the evaluation reads (:func:`~xo.auth.acl.structure`: type and link
fields). When an object enters, leaves, or changes that part, every object reachable through
reverse links is *dirty*: its rights must be evaluated again. Changes elsewhere (a VM's memory
usage, a host's load) leave rights alone and cost one tuple comparison.

The index is built on first need only: admins never evaluate rights, so a server whose
signed-in users are all admins never pays for it (~0.8 s of CPU and ~3 MB per 1,000 VMs). The
first :meth:`ObjectGraph.watch`, :meth:`~ObjectGraph.sync` or :meth:`~ObjectGraph.build`
subscribes to the ObjectStore and takes a snapshot of its objects; ``await build()`` indexes
that snapshot a slice at a time, yielding to the loop between slices, and a synchronous
``sync()`` finishes whatever is left. From then on the index follows the store through its own
subscription, drained by ``sync()``: callers sync right before they evaluate, so the index is
exactly the store at that moment. Dirty ids go to every :class:`GraphWatch` (each non-admin
API connection has one: ids to look at again since its last batch; ids that left the store are
not in it, the connection's own batch says they left) and to every invalidation listener (the
resolvers' memos).

Memory and the cyclic GC: the collector tracks every ``set`` but skips dicts and tuples holding
only strings, and a full collection visits every tracked container. So the long-lived structures
here are tuples (an object's links) and dicts of ``None`` (an object's readers): ~105,000 small
sets made full collections of a 10,000-VM server ~100 ms longer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import trio

from xo.auth.acl import links, structure


class WatchableObjects(Protocol):
    def get(self, object_id: str) -> dict[str, Any] | None: ...
    def values(self) -> Iterable[dict[str, Any]]: ...
    def subscribe(self) -> Any: ...


class GraphWatch:
    """Ids whose rights may have changed since the last :meth:`take` (coalesced)."""

    def __init__(self, graph: ObjectGraph) -> None:
        self._graph = graph
        # sets shared with every other watch (one per sync that found changes): never mutated
        self._dirty: list[frozenset[str]] = []

    def take(self) -> frozenset[str]:
        self._graph.sync()
        dirty, self._dirty = self._dirty, []
        if not dirty:
            return frozenset()
        if len(dirty) == 1:
            return dirty[0]
        return frozenset().union(*dirty)

    def close(self) -> None:
        self._graph._watches.pop(self, None)
        self._dirty = []

    def __enter__(self) -> GraphWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ObjectGraph:
    BUILD_SLICE = 2000  # objects indexed between two checkpoints of :meth:`build`

    def __init__(self, objects: WatchableObjects) -> None:
        self.objects = objects
        self._subscription: Any = None  # subscribed on first need
        self._backlog: list[dict[str, Any]] = []  # snapshot objects not indexed yet
        self._structure: dict[str, tuple[Any, ...]] = {}
        self._links: dict[str, tuple[str, ...]] = {}
        self._readers: dict[str, dict[str, None]] = {}  # id -> ids whose evaluation reads it
        self._watches: dict[GraphWatch, None] = {}
        self._listeners: list[Callable[[set[str]], None]] = []

    @property
    def active(self) -> bool:
        """Whether the index exists (someone needed it since the server started)."""
        return self._subscription is not None

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()

    def watch(self) -> GraphWatch:
        self._activate()
        watch = GraphWatch(self)
        self._watches[watch] = None
        return watch

    def on_dirty(self, listener: Callable[[set[str]], None]) -> None:
        """``listener(ids)`` after each sync that found ids whose rights may have changed."""
        self._listeners.append(listener)

    def readers(self, object_id: str) -> frozenset[str]:
        self.sync()
        return frozenset(self._readers.get(object_id, ()))

    async def build(self) -> None:
        """Index the store's objects now, a slice at a time, yielding between slices (several
        tasks may build at once: each slice is indexed synchronously)."""
        self._activate()
        while self._backlog:
            self._index_backlog(self.BUILD_SLICE)
            await trio.lowlevel.checkpoint()

    def sync(self) -> None:
        """Catch up with the store; spread the dirty ids to watches and listeners."""
        self._activate()
        if self._backlog:
            self._index_backlog(None)
        if not self._subscription.pending_count:
            return
        batch = self._subscription.get_batch_nowait()
        changed: list[str] = []
        for object_id in batch.exit:
            if self._index(object_id, None):
                changed.append(object_id)
        for object_id, obj in batch.enter.items():
            if self._index(object_id, obj):
                changed.append(object_id)
        if not changed:
            return
        dirty = self.closure(changed)
        for listener in self._listeners:
            listener(dirty)
        if self._watches:
            shared = frozenset(dirty.difference(batch.exit) if batch.exit else dirty)
            if shared:
                for watch in self._watches:
                    watch._dirty.append(shared)

    def closure(self, ids: Iterable[str]) -> set[str]:
        """``ids`` and every id whose evaluation reads one of them, transitively."""
        seen = set(ids)
        stack = list(seen)
        readers = self._readers
        while stack:
            for reader in readers.get(stack.pop(), ()):
                if reader not in seen:
                    seen.add(reader)
                    stack.append(reader)
        return seen

    def _activate(self) -> None:
        if self._subscription is None:
            self._subscription = self.objects.subscribe()
            self._backlog = list(self.objects.values())

    def _index_backlog(self, limit: int | None) -> None:
        backlog = self._backlog
        count = len(backlog) if limit is None else min(limit, len(backlog))
        for obj in backlog[len(backlog) - count :]:
            object_id = obj.get("id")
            if isinstance(object_id, str):
                self._index(object_id, obj)
        del backlog[len(backlog) - count :]

    def _index(self, object_id: str, obj: dict[str, Any] | None) -> bool:
        """Record ``obj``'s links; True when what the evaluation reads of it changed."""
        shape = structure(obj)
        if shape == self._structure.get(object_id):  # also: absent before and after
            return False
        all_readers = self._readers
        for target in self._links.pop(object_id, ()):
            readers = all_readers.get(target)
            if readers is not None:
                readers.pop(object_id, None)
                if not readers:
                    del all_readers[target]
        if shape is None:
            self._structure.pop(object_id, None)
            return True
        self._structure[object_id] = shape
        targets = links(obj)
        if targets:
            self._links[object_id] = tuple(targets)
            for target in targets:
                reader_ids = all_readers.get(target)
                if reader_ids is None:
                    all_readers[target] = {object_id: None}
                else:
                    reader_ids[object_id] = None
        return True
