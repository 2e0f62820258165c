"""Which objects' rights may have changed when the object graph changes.

Rights are inherited along links (a VM from its host, the host from its pool, a VDI from its SR
or its VMs: :mod:`xo.auth.acl`), so a VM migrating to another host changes the rights on the
VM, its disks, its VIFs, its snapshots... although only the VM object changed. This index
keeps, for every object id, the ids of the objects whose evaluation reads it (reverse links),
and the part of each object the evaluation reads (:func:`~xo.auth.acl.structure`: type and link
fields). When an object enters, leaves, or changes that part, every object reachable through
reverse links is *dirty*: its rights must be evaluated again. Changes elsewhere (a VM's memory
usage, a host's load) leave rights alone and cost one tuple comparison.

The index follows the ObjectStore through its own subscription, drained synchronously by
:meth:`ObjectGraph.sync`: callers sync right before they evaluate, so the index is exactly
the store at that moment. Dirty ids go to every :class:`GraphWatch` (each API connection has
one: ids to look at again since its last batch) and to every invalidation listener (the
resolvers' memos). Memory: one entry per object plus its links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from xo.auth.acl import links, structure


class WatchableObjects(Protocol):
    def get(self, object_id: str) -> dict[str, Any] | None: ...
    def values(self) -> Iterable[dict[str, Any]]: ...
    def subscribe(self) -> Any: ...


class GraphWatch:
    """Ids whose rights may have changed since the last :meth:`take` (a coalescing set)."""

    def __init__(self, graph: ObjectGraph) -> None:
        self._graph = graph
        self._dirty: set[str] = set()

    def take(self) -> set[str]:
        self._graph.sync()
        dirty, self._dirty = self._dirty, set()
        return dirty

    def close(self) -> None:
        self._graph._watches.discard(self)
        self._dirty = set()

    def __enter__(self) -> GraphWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ObjectGraph:
    def __init__(self, objects: WatchableObjects) -> None:
        self.objects = objects
        self._subscription = objects.subscribe()
        self._structure: dict[str, tuple[Any, ...]] = {}
        self._links: dict[str, set[str]] = {}
        self._readers: dict[str, set[str]] = {}  # id -> ids whose evaluation reads it
        self._watches: set[GraphWatch] = set()
        self._listeners: list[Callable[[set[str]], None]] = []
        for obj in list(objects.values()):
            object_id = obj.get("id")
            if isinstance(object_id, str):
                self._index(object_id, obj)

    def close(self) -> None:
        self._subscription.close()

    def watch(self) -> GraphWatch:
        watch = GraphWatch(self)
        self._watches.add(watch)
        return watch

    def on_dirty(self, listener: Callable[[set[str]], None]) -> None:
        """``listener(ids)`` after each sync that found ids whose rights may have changed."""
        self._listeners.append(listener)

    def readers(self, object_id: str) -> frozenset[str]:
        return frozenset(self._readers.get(object_id, ()))

    def sync(self) -> None:
        """Catch up with the store; spread the dirty ids to watches and listeners."""
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
        for watch in self._watches:
            watch._dirty |= dirty
        for listener in self._listeners:
            listener(dirty)

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

    def _index(self, object_id: str, obj: dict[str, Any] | None) -> bool:
        """Record ``obj``'s links; True when what the evaluation reads of it changed."""
        shape = structure(obj)
        if shape == self._structure.get(object_id):  # also: absent before and after
            return False
        for target in self._links.pop(object_id, ()):
            readers = self._readers.get(target)
            if readers is not None:
                readers.discard(object_id)
                if not readers:
                    del self._readers[target]
        if shape is None:
            self._structure.pop(object_id, None)
            return True
        self._structure[object_id] = shape
        targets = links(obj)
        if targets:
            self._links[object_id] = targets
            for target in targets:
                self._readers.setdefault(target, set()).add(object_id)
        return True
