"""What a transform may read besides its own record: the pool's other trimmed records.

XO's transforms read a live global cache; ours get a :class:`TransformContext` argument instead,
so they stay pure functions of (ref, record, context). The context also notes the refs a
transform looked for and did not find ("pending"): when such a record arrives later, the objects
that wanted it are recomputed (a VM whose ``current_operations`` names a task not loaded yet, a
VBD of a VDI that is created in the next event batch...).

Link policy (XO's ``link()``): a link is the target's uuid. ``OpaqueRef:NULL`` gives no link at
all (XO's field is ``undefined``, absent from JSON); a dangling ref gives None (null), where XO
would fail the whole object.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .fields import NULL_REF
from .records import MapInterner, Record

# Shared by every object with an empty list (most link lists are): objects are immutable.
EMPTY_LIST: list[Any] = []


def as_list(values: Collection[Any]) -> list[Any]:
    """A list for JSON (tags, sets of strings), the shared empty list when empty."""
    return list(values) if values else EMPTY_LIST


class TransformContext:
    """Read-only view of one pool's records for the transforms."""

    __slots__ = ("records", "pool_ref", "pool_uuid", "pending", "current", "_maps")

    def __init__(
        self,
        records: Mapping[str, Record],
        *,
        pool_ref: str | None = None,
        pending: dict[str, set[str]] | None = None,
        maps: MapInterner | None = None,
    ) -> None:
        self.records = records
        self.pool_ref = pool_ref
        pool = records.get(pool_ref) if pool_ref else None
        self.pool_uuid: str | None = getattr(pool, "uuid", None)
        # ref looked up but missing -> refs of the objects that wanted it
        self.pending: dict[str, set[str]] = pending if pending is not None else {}
        # the ref being transformed (the one that "wants" missing refs)
        self.current: str = ""
        self._maps = maps if maps is not None else MapInterner()

    def share(self, value: Any) -> Any:
        """One shared copy of a small derived dict/list equal across many objects."""
        return self._maps.share(value)

    # -- raw access -----------------------------------------------------------------------------

    def get(self, ref: str) -> Any:
        """The trimmed record behind ``ref``, or None (NULL or not loaded: noted as pending)."""
        record = self.records.get(ref)
        if record is None and ref != NULL_REF and ref:
            self._want(ref)
        return record

    def _want(self, ref: str) -> None:
        if self.current:
            wanted_by = self.pending.get(ref)
            if wanted_by is None:
                self.pending[ref] = {self.current}
            else:
                wanted_by.add(self.current)

    @property
    def pool(self) -> Any:
        return self.records.get(self.pool_ref) if self.pool_ref else None

    # -- links ----------------------------------------------------------------------------------

    def uuid(self, ref: str) -> str | None:
        """uuid of the record behind ``ref``; None when NULL or dangling."""
        record = self.get(ref)
        # metrics records keep no uuid (nothing should link to them): None, not an error
        return None if record is None else getattr(record, "uuid", None)

    def links(self, refs: Collection[str]) -> list[str | None]:
        """uuids of a set of refs, None for dangling ones (XO: ``undefined`` -> null in arrays)."""
        if not refs:
            return EMPTY_LIST
        uuid = self.uuid
        return [uuid(ref) for ref in refs]

    def put_link(self, obj: dict[str, Any], key: str, ref: str) -> None:
        """``obj[key] = uuid``; nothing for NULL (absent, as in XO); None when dangling."""
        if ref and ref != NULL_REF:
            obj[key] = self.uuid(ref)
