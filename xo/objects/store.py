"""ObjectStore: every XO object of every connected pool, id -> object, with a change feed.

Objects are plain dicts, never mutated after publication (their nested maps are shared with the
records they came from). Each pool publishes under its own ``pool_key`` (the server entry id):
``replace_pool`` after a (re)load diffs against what that pool had, so a reconnect publishes only
real differences; ``apply`` publishes one event batch. Subscribers get coalesced batches
(:mod:`.feed`).

Serialization: ``json_bytes(id)`` caches one object's JSON (what notifications send to every
client), ``dumps_objects`` renders ``xo.getAllObjects``'s ``{id: object}`` in one orjson call,
``iter_json_values`` streams objects for ndjson.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson

from .feed import Change, Subscription

XoObject = dict[str, Any]
Predicate = Callable[[XoObject], bool]


class ObjectStore:
    # JSON of recently changed objects is kept for the clients being notified of them; 32 MiB
    # holds every object of a 10,000-VM pool's busiest minutes, far less than the objects.
    JSON_CACHE_BYTES = 32 << 20

    def __init__(self) -> None:
        self._objects: dict[str, XoObject] = {}
        self._by_ref: dict[str, str] = {}  # _xapiRef -> id
        # pool_key -> ids, as dict keys: a dict of strings is not tracked by the cyclic GC, a
        # set always is (and 65,000 entries to visit in every full collection)
        self._pools: dict[str, dict[str, None]] = {}
        self._subscriptions: set[Subscription] = set()
        self._json: dict[str, bytes] = {}
        self._json_bytes = 0

    # -- reading --------------------------------------------------------------------------------

    def get(self, object_id: str) -> XoObject | None:
        return self._objects.get(object_id)

    def get_by_ref(self, opaque_ref: str) -> XoObject | None:
        object_id = self._by_ref.get(opaque_ref)
        return None if object_id is None else self._objects.get(object_id)

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._objects

    def values(self) -> Iterable[XoObject]:
        return self._objects.values()

    def items(self) -> Iterable[tuple[str, XoObject]]:
        return self._objects.items()

    def pool_ids(self, pool_key: str) -> frozenset[str]:
        """Ids currently published by one pool."""
        return frozenset(self._pools.get(pool_key, ()))

    # -- serialization --------------------------------------------------------------------------

    def json_bytes(self, object_id: str) -> bytes:
        """orjson serialization of one object, cached until it changes. KeyError if unknown."""
        cached = self._json.get(object_id)
        if cached is not None:
            return cached
        data = orjson.dumps(self._objects[object_id])
        if len(data) <= self.JSON_CACHE_BYTES // 64:
            while self._json_bytes + len(data) > self.JSON_CACHE_BYTES and self._json:
                oldest = next(iter(self._json))
                self._json_bytes -= len(self._json.pop(oldest))
            self._json[object_id] = data
            self._json_bytes += len(data)
        return data

    def matching(
        self, predicate: Predicate | None = None, limit: int | None = None
    ) -> dict[str, XoObject]:
        """id -> object for objects matching ``predicate`` (insertion order, at most ``limit``)."""
        if predicate is None and limit is None:
            return dict(self._objects)
        out: dict[str, XoObject] = {}
        if limit is not None and limit <= 0:
            return out
        for object_id, obj in self._objects.items():
            if predicate is None or predicate(obj):
                out[object_id] = obj
                if limit is not None and len(out) >= limit:
                    break
        return out

    def dumps_objects(self, predicate: Predicate | None = None, limit: int | None = None) -> bytes:
        """JSON of ``{id: object}`` (xo.getAllObjects' result) in one orjson call."""
        return orjson.dumps(self.matching(predicate, limit))

    def iter_json_values(
        self, predicate: Predicate | None = None, limit: int | None = None
    ) -> Iterator[bytes]:
        """One JSON document per matching object (ndjson lines without the newline)."""
        dumps = orjson.dumps
        count = 0
        if limit is not None and limit <= 0:
            return
        for object_id, obj in list(self._objects.items()):
            if predicate is not None and not predicate(obj):
                continue
            cached = self._json.get(object_id)
            yield cached if cached is not None else dumps(obj)
            count += 1
            if limit is not None and count >= limit:
                return

    # -- publishing -----------------------------------------------------------------------------

    def replace_pool(self, pool_key: str, objects: Mapping[str, XoObject]) -> None:
        """Make ``pool_key``'s objects exactly ``objects``; publishes only the differences."""
        previous = self._pools.get(pool_key, {})
        removals = [object_id for object_id in previous if object_id not in objects]
        self._publish(pool_key, objects, removals)

    def apply(
        self, pool_key: str, upserts: Mapping[str, XoObject], removals: Iterable[str]
    ) -> None:
        """Publish one batch of a pool's changes (unchanged upserts are dropped)."""
        members = self._pools.get(pool_key, {})
        self._publish(pool_key, upserts, [i for i in removals if i in members and i not in upserts])

    def remove_pool(self, pool_key: str) -> None:
        """The pool is gone (server removed or disconnected): every object of it exits."""
        self._publish(pool_key, {}, list(self._pools.get(pool_key, ())))
        self._pools.pop(pool_key, None)

    def _publish(
        self, pool_key: str, upserts: Mapping[str, XoObject], removals: Iterable[str]
    ) -> None:
        objects = self._objects
        members = self._pools.setdefault(pool_key, {})
        changes: list[Change] = []
        for object_id, obj in upserts.items():
            current = objects.get(object_id)
            if current is obj or current == obj:
                members[object_id] = None
                continue
            if current is not None:
                self._forget(object_id, current)
            objects[object_id] = obj
            members[object_id] = None
            ref = obj.get("_xapiRef")
            if ref:
                self._by_ref[ref] = object_id
            changes.append((object_id, obj, current is not None))
        for object_id in removals:
            current = objects.pop(object_id, None)
            members.pop(object_id, None)
            if current is None:
                continue
            self._forget(object_id, current)
            changes.append((object_id, None, True))
        if changes:
            for subscription in list(self._subscriptions):
                subscription._push(changes)

    def _forget(self, object_id: str, old: XoObject) -> None:
        ref = old.get("_xapiRef")
        if ref and self._by_ref.get(ref) == object_id:
            del self._by_ref[ref]
        cached = self._json.pop(object_id, None)
        if cached is not None:
            self._json_bytes -= len(cached)

    # -- subscribing ----------------------------------------------------------------------------

    def subscribe(self) -> Subscription:
        """A coalescing change queue starting from the store's current content."""
        subscription = Subscription(self._subscriptions.discard)
        self._subscriptions.add(subscription)
        return subscription

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
