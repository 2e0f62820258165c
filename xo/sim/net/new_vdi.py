"""VDIs the HTTP handlers create themselves: `import_raw_vdi?sr_id=` ("Imported VDI", sized by
Content-Length) and `/pool_patch_upload` (the uploaded file), with their empty disk contents."""

from __future__ import annotations

from typing import Any

from xo.sim.vm_copy import account_sr, destroy_vdi


def create_vdi(pool: Any, sr_ref: str, size: int, *, name_label: str) -> str:
    """A new empty user VDI of `size` bytes on `sr_ref` (SR accounting included)."""
    db = pool.db
    uuid = db.ids.uuid()
    ref = db.create(
        "VDI",
        {
            "uuid": uuid,
            "name_label": name_label,
            "SR": sr_ref,
            "virtual_size": size,
            "physical_utilisation": 0,
            "type": "user",
            "managed": True,
            "location": uuid,
            "sm_config": {"image-format": "vhd"},
        },
    )
    pool.disks.create_empty(ref, size)
    account_sr(db, sr_ref, size)
    return ref


def remove_vdi(pool: Any, vdi_ref: str) -> None:
    """Destroy a VDI this handler created (rollback of a failed upload)."""
    if pool.db.exists("VDI", vdi_ref):
        destroy_vdi(pool.db, pool.disks, vdi_ref)
