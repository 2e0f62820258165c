"""Which XO objects to recompute when one XAPI record changes.

Transforms read other records (a VM reads its metrics, guest metrics, and for ``$container`` its
VBDs -> VDIs -> SRs -> first PBD). When such a record changes, the objects that read it must be
rebuilt even though their own record did not change. The rules below mirror exactly what the
transforms read, field-sensitively where it matters for load: an SR's usage changing every few
seconds must not rebuild the 10,000 VMs that sit on it, only a change of ``shared``/``PBDs`` does.

Links (uuids) never create a dependency: a uuid never changes. Links to records that are not
loaded yet are handled by the "pending" mechanism of :mod:`.context`.

``Owners`` indexes the records that have no back-pointer to their reader (VM_metrics -> VM, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .fields import NULL_REF
from .records import Record

# record class -> (owner class, fields of the owner that point to such records)
OWNED_BY: dict[str, tuple[str, tuple[str, ...]]] = {
    "VM_metrics": ("VM", ("metrics",)),
    "VM_guest_metrics": ("VM", ("guest_metrics",)),
    "host_metrics": ("host", ("metrics",)),
    "Certificate": ("host", ("certificates",)),
    "PIF_metrics": ("PIF", ("metrics",)),
}
_OWNER_FIELDS: dict[str, tuple[str, ...]] = {
    "VM": ("metrics", "guest_metrics"),
    "host": ("metrics", "certificates"),
    "PIF": ("metrics",),
}


class Owners:
    """owned ref (metrics, certificate...) -> ref of the record that points to it."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def get(self, ref: str) -> str | None:
        return self._owner.get(ref)

    def clear(self) -> None:
        self._owner.clear()

    def update(self, ref: str, old: Record | None, new: Record | None) -> None:
        record = new if new is not None else old
        fields = _OWNER_FIELDS.get(record.xapi_class) if record is not None else None
        if not fields:
            return
        before = set(_pointed(old, fields))
        after = set(_pointed(new, fields))
        for owned in before - after:
            if self._owner.get(owned) == ref:
                del self._owner[owned]
        for owned in after:
            self._owner[owned] = ref


def _pointed(record: Record | None, fields: tuple[str, ...]) -> Iterator[str]:
    if record is None:
        return
    for name in fields:
        value = getattr(record, name)
        if isinstance(value, tuple):
            yield from value
        elif value != NULL_REF:
            yield value


def _both(old: Any, new: Any, name: str) -> set[str]:
    refs: set[str] = set()
    for record in (old, new):
        if record is not None:
            value = getattr(record, name)
            if isinstance(value, tuple):
                refs.update(value)
            elif value != NULL_REF:
                refs.add(value)
    return refs


def _vms_of_vdis(vdi_refs: set[str] | tuple[str, ...], records: Mapping[str, Any]) -> Iterator[str]:
    for vdi_ref in vdi_refs:
        vdi = records.get(vdi_ref)
        if vdi is None:
            continue
        for vbd_ref in vdi.VBDs:
            vbd = records.get(vbd_ref)
            if vbd is not None and vbd.VM != NULL_REF:
                yield vbd.VM


def _changed(old: Any, new: Any, *names: str) -> bool:
    if old is None or new is None:
        return True
    return any(getattr(old, name) != getattr(new, name) for name in names)


def dependents(
    cls: str,
    ref: str,
    old: Any,
    new: Any,
    records: Mapping[str, Any],
    owners: Owners,
    pool_ref: str | None,
) -> set[str]:
    """Refs of the objects (other than ``ref``'s own) to rebuild after this record changed."""
    out: set[str] = set()
    if cls in OWNED_BY:
        owner = owners.get(ref)
        if owner is not None:
            out.add(owner)
    elif cls == "host":
        pool = records.get(pool_ref) if pool_ref else None
        master_renamed = (
            pool is not None and pool.master == ref and _changed(old, new, "name_label")
        )
        if pool_ref is not None and master_renamed:
            out.add(pool_ref)  # the pool shows its master's name when it has none
    elif cls == "pool":
        out.update(_both(old, new, "master"))
    elif cls == "VBD":
        out.update(_both(old, new, "VM"))
        out.update(_both(old, new, "VDI"))
    elif cls == "VDI":
        if _changed(old, new, "SR", "VBDs"):
            out.update(_both(old, new, "SR"))
            for vbd_ref in _both(old, new, "VBDs"):
                vbd = records.get(vbd_ref)
                if vbd is not None and vbd.VM != NULL_REF:
                    out.add(vbd.VM)
    elif cls == "SR":
        if _changed(old, new, "shared", "PBDs"):
            out.update(_vms_of_vdis(_both(old, new, "VDIs"), records))
    elif cls == "PBD":
        out.update(_both(old, new, "SR"))
        if old is None or new is None:
            out.update(_both(old, new, "host"))
            for sr_ref in _both(old, new, "SR"):
                sr = records.get(sr_ref)
                if sr is not None and not sr.shared:
                    out.update(_vms_of_vdis(sr.VDIs, records))
    elif cls == "pool_update":
        out.update(_both(old, new, "hosts"))
    elif cls == "pool_patch":
        out.update(_both(old, new, "host_patches"))
    out.discard(ref)
    out.discard(NULL_REF)
    return out
