"""PoolRecords: the trimmed XAPI records of ONE pool and the XO objects derived from them.

The PoolConnection feeds it a full load (``load``) then ``event.from`` batches
(``apply_events``); both return XO objects ready for the ObjectStore. Records are trimmed on
arrival (``fields.py``), transforms are pure functions of (ref, record, context), and a change to
a record rebuilds exactly the objects that read it (``dependencies.py``).
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from .context import TransformContext
from .dependencies import Owners, dependents
from .fields import CLASSES, canonical_class
from .records import Record, Trimmer
from .transforms import TRANSFORMS, to_xo_object

log = logging.getLogger(__name__)

XoObject = dict[str, Any]


class PoolRecords:
    """Records and XO objects of one pool. Not thread-safe; owned by one PoolConnection."""

    CLASSES: tuple[str, ...] = CLASSES

    def __init__(self) -> None:
        self._trimmer = Trimmer()
        self._records: dict[str, Record] = {}
        # ref -> the object it produced (its id is obj["id"]): one index, not two, since a
        # 10,000-VM pool has 65,000 objects and each dict entry costs ~50 bytes
        self._objects: dict[str, XoObject] = {}
        self._pending: dict[str, set[str]] = {}  # missing ref -> refs of objects wanting it
        self._owners = Owners()
        self._pool_ref: str | None = None

    # -- read side ------------------------------------------------------------------------------

    @property
    def pool_id(self) -> str | None:
        """The pool's uuid (its XO id), once its record is known."""
        pool: Any = self._records.get(self._pool_ref) if self._pool_ref else None
        return None if pool is None else str(pool.uuid)

    @property
    def pool_ref(self) -> str | None:
        return self._pool_ref

    def objects(self) -> dict[str, XoObject]:
        """id -> XO object (a new dict; the objects themselves are shared and immutable)."""
        return {obj["id"]: obj for obj in self._objects.values()}

    def record(self, ref: str) -> Record | None:
        """The trimmed record behind a ref (read-only), for callers that need a raw field."""
        return self._records.get(ref)

    def id_of(self, ref: str) -> str | None:
        obj = self._objects.get(ref)
        return None if obj is None else str(obj["id"])

    def __len__(self) -> int:
        return len(self._records)

    # -- full load ------------------------------------------------------------------------------

    def load(self, records: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, XoObject]:
        """Replace everything by ``{class: {ref: full record}}``; returns id -> XO object.

        Class names may be spelled either way (``"VM"`` or ``"vm"``); unknown classes are ignored.
        """
        # A full load allocates ~50 container objects per VM, none of them garbage: the cyclic
        # GC would scan them over and over (40% of the load time at 10,000 VMs). The load is
        # synchronous, so pausing the collector affects nothing else.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.begin_load()
            for raw_cls, by_ref in records.items():
                self.add_records(raw_cls, by_ref)
            return self.end_load()
        finally:
            if was_enabled:
                gc.enable()

    def begin_load(self) -> None:
        """Start a full load in steps: `add_records` (any number of times), then `end_load`.

        Everything known before is dropped now, so a reload never holds two pools' worth.
        """
        self._records = {}
        self._objects = {}
        self._pending = {}
        self._owners.clear()
        self._pool_ref = None

    def add_records(self, raw_cls: str, by_ref: Mapping[str, Mapping[str, Any]]) -> None:
        """Trim and keep some records of one class (full XAPI records by ref). The caller may
        drop ``by_ref`` right after: nothing refers to it. Unknown classes are ignored."""
        cls = canonical_class(raw_cls)
        if cls is None:
            return
        trim = self._trimmer.trimmer_for(cls)
        records = self._records
        owners = self._owners
        for ref, raw in by_ref.items():
            ref = _intern_ref(ref)
            record = trim(raw)
            records[ref] = record
            if cls == "pool":
                self._pool_ref = ref
            owners.update(ref, None, record)

    def end_load(self) -> dict[str, XoObject]:
        """Build every XO object from the records added since `begin_load`; id -> object."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            ctx = self._context()
            for ref, record in self._records.items():
                if record.xapi_class in TRANSFORMS:
                    self._rebuild(ref, ctx, {}, set())
            objects = self.objects()
        finally:
            if was_enabled:
                gc.enable()
        # Everything just built lives as long as the pool and holds no reference cycle
        # (dicts, lists, tuples, strings): reference counting frees it. Moving it out of the
        # cyclic collector's generations spares the event loop full-heap scans of a million
        # objects (hundreds of ms each) after every (re)load.
        gc.freeze()
        return objects

    # -- events ---------------------------------------------------------------------------------

    def apply_events(
        self, events: Iterable[Mapping[str, Any]]
    ) -> tuple[dict[str, XoObject], set[str]]:
        """Apply ``event.from`` events; returns (upserted objects by id, removed ids).

        Events carry lowercase classes, ``operation`` add|mod|del, ``ref`` and ``snapshot``
        (absent on del). Upserts may include objects equal to their previous version (a
        dependency was rebuilt); the ObjectStore drops those.
        """
        touched: list[tuple[str, str, Record | None, Record | None]] = []
        for event in events:
            cls = canonical_class(str(event.get("class", "")))
            ref = event.get("ref")
            if cls is None or not isinstance(ref, str):
                continue
            ref = _intern_ref(ref)
            old = self._records.get(ref)
            if event.get("operation") == "del":
                if old is None:
                    continue
                del self._records[ref]
                new = None
            else:
                snapshot = event.get("snapshot")
                if not isinstance(snapshot, Mapping):
                    continue
                new = self._trimmer.trim(cls, snapshot)
                self._records[ref] = new
            touched.append((cls, ref, old, new))
        return self._rebuild_touched(touched)

    def _rebuild_touched(
        self, touched: list[tuple[str, str, Record | None, Record | None]]
    ) -> tuple[dict[str, XoObject], set[str]]:
        previous_pool_id = self.pool_id
        dirty: set[str] = set()
        for cls, ref, old, new in touched:
            self._owners.update(ref, old, new)
            if cls == "pool":
                if new is not None:
                    self._pool_ref = ref
                elif ref == self._pool_ref:
                    self._pool_ref = None
        for cls, ref, old, new in touched:
            dirty.add(ref)
            dirty.update(
                dependents(cls, ref, old, new, self._records, self._owners, self._pool_ref)
            )
            if new is not None:
                dirty.update(self._pending.pop(ref, ()))
        if self.pool_id != previous_pool_id:
            dirty.update(self._objects)  # $pool of every object changed
            dirty.update(ref for ref, rec in self._records.items() if rec.xapi_class in TRANSFORMS)
        upserts: dict[str, XoObject] = {}
        removed: set[str] = set()
        ctx = self._context()
        # deletions first, so that an id freed and reused in the same batch ends up upserted
        for ref in sorted(dirty, key=lambda r: r in self._records):
            self._rebuild(ref, ctx, upserts, removed)
        removed.difference_update(upserts)
        return upserts, removed

    # -- internals ------------------------------------------------------------------------------

    def _context(self) -> TransformContext:
        return TransformContext(
            self._records, pool_ref=self._pool_ref, pending=self._pending, maps=self._trimmer.maps
        )

    def _rebuild(
        self, ref: str, ctx: TransformContext, upserts: dict[str, XoObject], removed: set[str]
    ) -> None:
        record = self._records.get(ref)
        old = self._objects.get(ref)
        old_id: str | None = None if old is None else old["id"]
        if record is None or record.xapi_class not in TRANSFORMS:
            if old_id is not None:
                del self._objects[ref]
                removed.add(old_id)
                upserts.pop(old_id, None)
            return
        ctx.current = ref
        try:
            obj = to_xo_object(record.xapi_class, ref, record, ctx)
        except Exception:  # a transform bug must not take the pool down: keep the old object
            log.exception("transform failed for %s %s", record.xapi_class, ref)
            return
        finally:
            ctx.current = ""
        if obj is None:
            return
        new_id = obj["id"]
        if old_id is not None and old_id != new_id:
            removed.add(old_id)
            upserts.pop(old_id, None)
        self._objects[ref] = obj
        upserts[new_id] = obj
        removed.discard(new_id)


_intern_ref = sys.intern
