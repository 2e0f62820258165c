"""The simulated pool database: tables of records, generations, and the change index events read.

Records are replaced, never mutated: :meth:`Database.update` builds a new dict, so a record handed
out (``get_record``, an event snapshot) is a consistent value that later writes do not touch, and
nothing needs copying.

Change tracking follows xapi's ``Db_cache_types``: a global generation counter bumped by every
write; each object remembers the generation that created it and the one that last touched it;
deletions are remembered per table in a bounded queue (512, trimmed to the newest 256). The
:class:`ChangeLog` keeps one entry per object, ordered by last change, so "what changed since
generation G" costs O(changes since G) by walking the log backwards. Messages are not DB rows in
xapi: they live in their own log with their own generation (the second half of event tokens).

Every commit swaps a single :class:`trio.Event`, so any number of waiting ``event.from`` calls
are woken by one ``set()``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import trio

from xo.sim.errors import XapiFailure, handle_invalid
from xo.sim.schema import NULL_REF, RELATIONS, SCHEMAS, IdSource

# xapi keeps at most 512 deletions per table and trims to 256 when over (Table.remove).
DELETION_QUEUE_MAX = 512
DELETION_QUEUE_TRIM = 256
# Legacy event.next queue: xapi bounds it by size (10 MB of events); we bound it by count.
LEGACY_QUEUE_MAX = 10_000

MESSAGE_CLASS = "message"


@dataclass(slots=True)
class Change:
    """The last change of one object: generation, creation generation, deleted or not."""

    cls: str
    ref: str
    gen: int
    created: int
    deleted: bool = False


class ChangeLog:
    """Last change per object, in generation order, plus per-table bounded deletion memory."""

    def __init__(self) -> None:
        self.generation = 0
        self._index: dict[str, Change] = {}
        self._deleted: dict[str, deque[str]] = {}

    def created(self, cls: str, ref: str) -> None:
        self.generation += 1
        self._index[ref] = Change(cls, ref, self.generation, self.generation)

    def modified(self, ref: str) -> None:
        self.generation += 1
        entry = self._index.pop(ref)
        entry.gen = self.generation
        self._index[ref] = entry

    def deleted(self, cls: str, ref: str) -> None:
        self.generation += 1
        entry = self._index.pop(ref)
        entry.gen = self.generation
        entry.deleted = True
        self._index[ref] = entry
        queue = self._deleted.setdefault(cls, deque())
        queue.append(ref)
        if len(queue) > DELETION_QUEUE_MAX:
            while len(queue) > DELETION_QUEUE_TRIM:
                self._index.pop(queue.popleft(), None)

    def since(self, generation: int) -> Iterator[Change]:
        """Changes newer than ``generation``, newest first."""
        for entry in reversed(self._index.values()):
            if entry.gen <= generation:
                return
            yield entry


class Database:
    """All tables of one pool. Mutations are synchronous (no awaits) and emit events."""

    def __init__(
        self, ids: IdSource | None = None, legacy_queue_max: int = LEGACY_QUEUE_MAX
    ) -> None:
        self.ids = ids or IdSource()
        self.tables: dict[str, dict[str, dict[str, Any]]] = {cls: {} for cls in SCHEMAS}
        self._by_uuid: dict[str, dict[str, str]] = {cls: {} for cls in SCHEMAS}
        self.log = ChangeLog()
        self.message_log = ChangeLog()
        self._changed: trio.Event | None = None  # created on demand: commits are cheap unwatched
        self._pending_links: dict[tuple[str, str, str], list[str]] | None = None
        # Legacy event.next feed: (id, class, operation, ref, snapshot, timestamp).
        self.legacy_id = 0
        self.legacy_listeners = 0
        self.legacy_lost_upto = 0  # id of the newest legacy event dropped from the queue
        self.legacy_queue: deque[tuple[int, str, str, str, dict | None, float]] = deque(
            maxlen=legacy_queue_max
        )

    # --- reads ----------------------------------------------------------------------------------

    def get(self, cls: str, ref: str) -> dict[str, Any]:
        """The current record (a value: never mutate it). Raises HANDLE_INVALID."""
        try:
            return self.tables[cls][ref]
        except KeyError:
            raise handle_invalid(cls, ref) from None

    def exists(self, cls: str, ref: str) -> bool:
        return ref in self.tables[cls]

    def all(self, cls: str) -> dict[str, dict[str, Any]]:
        return self.tables[cls]

    def find_by_uuid(self, cls: str, uuid: str) -> str | None:
        return self._by_uuid[cls].get(uuid)

    def find_by_name_label(self, cls: str, label: str) -> list[str]:
        return [ref for ref, rec in self.tables[cls].items() if rec.get("name_label") == label]

    def changed(self) -> trio.Event:
        """An event set at the next commit (capture it before reading, then wait on it)."""
        if self._changed is None:
            self._changed = trio.Event()
        return self._changed

    # --- writes ---------------------------------------------------------------------------------

    def create(self, cls: str, fields: dict[str, Any], *, ref: str | None = None) -> str:
        """Insert a record of ``cls``: ``fields`` over every field's default. Returns the ref."""
        schema = SCHEMAS[cls]
        if not fields.keys() <= schema.fields.keys():
            raise KeyError(f"{cls} has no field(s) {sorted(fields.keys() - schema.fields.keys())}")
        record = schema.default_record()
        record.update(fields)
        if not record.get("uuid") and "uuid" in schema.fields:
            record["uuid"] = self.ids.uuid()
        ref = ref or self.ids.ref()
        self.tables[cls][ref] = record
        if "uuid" in record:
            self._by_uuid[cls][record["uuid"]] = ref
        log = self.message_log if cls == MESSAGE_CLASS else self.log
        log.created(cls, ref)
        self._legacy(cls, "add", ref, record)
        self._commit()
        for fname, parent, set_field in RELATIONS.get(cls, ()):
            self._link(parent, record[fname], set_field, ref)
        return ref

    def update(self, cls: str, ref: str, **fields: Any) -> dict[str, Any]:
        """Replace the record by a copy with ``fields`` changed; returns the new record."""
        table = self.tables[cls]
        old = table.get(ref)
        if old is None:
            raise handle_invalid(cls, ref)
        if not fields.keys() <= old.keys():
            raise KeyError(f"{cls} has no field(s) {sorted(fields.keys() - old.keys())}")
        record = {**old, **fields}
        table[ref] = record
        if "uuid" in fields and fields["uuid"] != old.get("uuid"):
            self._by_uuid[cls].pop(old["uuid"], None)
            self._by_uuid[cls][fields["uuid"]] = ref
        self._touched(cls, ref, record)
        for fname, parent, set_field in RELATIONS.get(cls, ()):
            if fname in fields and fields[fname] != old[fname]:
                self._unlink(parent, old[fname], set_field, ref)
                self._link(parent, fields[fname], set_field, ref)
        return record

    def touch(self, cls: str, ref: str) -> None:
        """Bump the object's generation without changing it (``event.inject``)."""
        record = self.get(cls, ref)
        self._touched(cls, ref, record)

    def destroy(self, cls: str, ref: str) -> None:
        table = self.tables[cls]
        record = table.pop(ref, None)
        if record is None:
            raise handle_invalid(cls, ref)
        if "uuid" in record:
            self._by_uuid[cls].pop(record["uuid"], None)
        log = self.message_log if cls == MESSAGE_CLASS else self.log
        log.deleted(cls, ref)
        self._legacy(cls, "del", ref, record)
        self._commit()
        for fname, parent, set_field in RELATIONS.get(cls, ()):
            self._unlink(parent, record[fname], set_field, ref)

    # --- set/map field helpers (each is one write, one event) ------------------------------------

    def add_to_set(self, cls: str, ref: str, name: str, value: Any) -> None:
        current = self.get(cls, ref)[name]
        if value not in current:
            self.update(cls, ref, **{name: [*current, value]})

    def remove_from_set(self, cls: str, ref: str, name: str, value: Any) -> None:
        current = self.get(cls, ref)[name]
        if value in current:
            self.update(cls, ref, **{name: [v for v in current if v != value]})

    def add_to_map(self, cls: str, ref: str, name: str, key: str, value: Any) -> None:
        record = self.get(cls, ref)
        if key in record[name]:
            raise XapiFailure("MAP_DUPLICATE_KEY", cls, name, record.get("uuid", ref), key)
        self.update(cls, ref, **{name: {**record[name], key: value}})

    def remove_from_map(self, cls: str, ref: str, name: str, key: str) -> None:
        current = self.get(cls, ref)[name]
        if key in current:
            self.update(cls, ref, **{name: {k: v for k, v in current.items() if k != key}})

    # --- internals ------------------------------------------------------------------------------

    def _link(self, parent_cls: str, parent: str, set_field: str, child: str) -> None:
        if parent == NULL_REF:
            return
        if self._pending_links is not None:
            self._pending_links.setdefault((parent_cls, parent, set_field), []).append(child)
        elif parent in self.tables[parent_cls]:
            self.add_to_set(parent_cls, parent, set_field, child)

    def _unlink(self, parent_cls: str, parent: str, set_field: str, child: str) -> None:
        if parent == NULL_REF:
            return
        if self._pending_links is not None:
            pending = self._pending_links.get((parent_cls, parent, set_field))
            if pending and child in pending:
                pending.remove(child)
                return
        if parent in self.tables[parent_cls]:
            self.remove_from_set(parent_cls, parent, set_field, child)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Defer relation set updates to the end (building 10,000s of objects stays linear)."""
        self._pending_links = {}
        try:
            yield
        finally:
            pending, self._pending_links = self._pending_links, None
            for (parent_cls, parent, set_field), children in pending.items():
                record = self.tables[parent_cls].get(parent)
                if record is not None and children:
                    self.update(parent_cls, parent, **{set_field: [*record[set_field], *children]})

    def _touched(self, cls: str, ref: str, record: dict[str, Any]) -> None:
        log = self.message_log if cls == MESSAGE_CLASS else self.log
        log.modified(ref)
        self._legacy(cls, "mod", ref, record)
        self._commit()

    def _legacy(self, cls: str, op: str, ref: str, record: dict | None) -> None:
        self.legacy_id += 1
        if self.legacy_listeners:
            queue = self.legacy_queue
            if len(queue) == queue.maxlen:
                self.legacy_lost_upto = queue[0][0]
            queue.append((self.legacy_id, cls, op, ref, record, time.time()))

    def _commit(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()
