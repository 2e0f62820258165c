"""The transform registry: trimmed XAPI record -> XO object, plus the fields every object has.

``to_xo_object(cls, ref, record, ctx)`` returns a new plain dict (or None for classes that only
feed others, such as VM_metrics). Every object gets ``id`` (the uuid unless the transform set
one), ``type`` (the transform's, else the XAPI class), ``uuid``, ``$pool``, ``$poolId`` and
``_xapiRef``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import transform_activity, transform_host, transform_network, transform_storage, transform_vm
from .context import TransformContext

Transform = Callable[[str, Any, TransformContext], dict[str, Any]]

TRANSFORMS: dict[str, Transform] = {
    "pool": transform_host.pool,
    "host": transform_host.host,
    "host_patch": transform_host.host_patch,
    "pool_patch": transform_host.pool_patch,
    "PCI": transform_host.pci,
    "PGPU": transform_host.pgpu,
    "VM": transform_vm.vm,
    "SR": transform_storage.sr,
    "PBD": transform_storage.pbd,
    "VDI": transform_storage.vdi,
    "VBD": transform_storage.vbd,
    "SM": transform_storage.sm,
    "network": transform_network.network,
    "PIF": transform_network.pif,
    "VIF": transform_network.vif,
    "Bond": transform_network.bond,
    "message": transform_activity.message,
    "task": transform_activity.task,
}


def object_id(cls: str, ref: str, record: Any, pool_uuid: str | None) -> str | None:
    """The XO id the record's object has (None: the class makes no object)."""
    if cls not in TRANSFORMS:
        return None
    if cls == "pool_patch":
        return ref
    if cls == "VM":
        return transform_vm.vm_object_id(record, pool_uuid)
    return str(record.uuid) or ref


def to_xo_object(cls: str, ref: str, record: Any, ctx: TransformContext) -> dict[str, Any] | None:
    transform = TRANSFORMS.get(cls)
    if transform is None:
        return None
    obj = transform(ref, record, ctx)
    # Adding keys one by one keeps CPython's dict table at its minimal size (merging into a
    # pre-built dict would round some objects up to the next table size).
    if "id" not in obj:
        obj["id"] = record.uuid or ref
    if "type" not in obj:
        obj["type"] = cls
    if "uuid" not in obj:
        obj["uuid"] = record.uuid
    obj["$pool"] = obj["$poolId"] = ctx.pool_uuid
    obj["_xapiRef"] = ref
    return obj
