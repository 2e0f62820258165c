"""SR, PBD, VDI, VBD and SM records -> XO objects (xo-server's transforms)."""

from __future__ import annotations

import re
from typing import Any

from .context import TransformContext, as_list

# Provisioning of each SR driver, as XO reports it in ``allocationStrategy``.
_THIN = "ext file nfs shm smb xosan zfs"
_THICK = (
    "hba iscsi lvhd lvhdofcoe lvhdohba lvhdoiscsi lvm lvmofcoe lvmohba lvmoiscsi ocfs ocfsohba "
    "ocfsoiscsi rawhba rawiscsi udev"
)
ALLOCATION_BY_TYPE: dict[str, str] = {
    **dict.fromkeys(_THIN.split(), "thin"),
    **dict.fromkeys(_THICK.split(), "thick"),
}

OBFUSCATED = "* obfuscated *"
_SENSITIVE_NAMES = frozenset(("token", "passphrase", "encryptionKey"))
_PASSWORD_RE = re.compile("password", re.IGNORECASE)


def obfuscate(config: dict[str, Any]) -> dict[str, Any]:
    """device_config with secrets replaced (XO's sensitive-values: token, password...)."""
    if not any(k in _SENSITIVE_NAMES or _PASSWORD_RE.search(k) for k in config):
        return config
    return {
        key: (
            OBFUSCATED
            if isinstance(value, str) and (key in _SENSITIVE_NAMES or _PASSWORD_RE.search(key))
            else value
        )
        for key, value in config.items()
    }


def sr(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    first_pbd = ctx.get(rec.PBDs[0]) if rec.PBDs else None
    obj: dict[str, Any] = {
        "type": "SR",
        "content_type": rec.content_type,
        "physical_usage": rec.physical_utilisation,
    }
    if rec.type == "linstor":
        provisioning = first_pbd.device_config.get("provisioning") if first_pbd else None
        obj["allocationStrategy"] = provisioning or "unknown"
    elif rec.type in ALLOCATION_BY_TYPE:
        obj["allocationStrategy"] = ALLOCATION_BY_TYPE[rec.type]
    obj["current_operations"] = rec.current_operations
    obj["inMaintenanceMode"] = "xo:maintenanceState" in rec.other_config
    obj["name_description"] = rec.name_description
    obj["name_label"] = rec.name_label
    obj["size"] = rec.physical_size
    obj["shared"] = rec.shared
    obj["SR_type"] = rec.type
    obj["tags"] = as_list(rec.tags)
    obj["usage"] = rec.virtual_allocation
    obj["VDIs"] = ctx.links(rec.VDIs)
    obj["other_config"] = rec.other_config
    obj["sm_config"] = rec.sm_config
    if rec.shared or first_pbd is None:
        obj["$container"] = ctx.pool_uuid
    else:
        obj["$container"] = ctx.uuid(first_pbd.host)
    obj["$PBDs"] = ctx.links(rec.PBDs)
    return obj


def pbd(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "PBD", "attached": rec.currently_attached}
    ctx.put_link(obj, "host", rec.host)
    ctx.put_link(obj, "SR", rec.SR)
    obj["device_config"] = obfuscate(rec.device_config)
    obj["otherConfig"] = rec.other_config
    return obj


def vdi(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "VDI",
        "cbt_enabled": rec.cbt_enabled,
        "missing": rec.missing,
        "name_description": rec.name_description,
        "name_label": rec.name_label,
    }
    parent = rec.sm_config.get("vhd-parent")
    if parent is not None:
        obj["parent"] = parent
    image_format = rec.sm_config.get("image-format")
    if image_format is not None:
        obj["image_format"] = image_format
    obj["size"] = rec.virtual_size
    obj["snapshots"] = ctx.links(rec.snapshots)
    obj["tags"] = as_list(rec.tags)
    obj["usage"] = rec.physical_utilisation
    obj["VDI_type"] = rec.type
    obj["current_operations"] = rec.current_operations
    obj["other_config"] = rec.other_config
    ctx.put_link(obj, "$SR", rec.SR)
    obj["$VBDs"] = ctx.links(rec.VBDs)
    if rec.is_a_snapshot:
        obj["type"] = "VDI-snapshot"
        obj["snapshot_time"] = rec.snapshot_time
        ctx.put_link(obj, "$snapshot_of", rec.snapshot_of)
    elif not rec.managed:
        obj["type"] = "VDI-unmanaged"
    return obj


def vbd(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "VBD",
        "attached": rec.currently_attached,
        "bootable": rec.bootable,
        "device": rec.device or None,
        "is_cd_drive": rec.type == "CD",
        "position": rec.userdevice,
        "read_only": rec.mode == "RO",
    }
    ctx.put_link(obj, "VDI", rec.VDI)
    ctx.put_link(obj, "VM", rec.VM)
    return obj


def sm(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    return {
        "type": "SM",
        "name_description": rec.name_description,
        "name_label": rec.name_label,
        "SM_type": rec.type,
        "configuration": rec.configuration,
        "vendor": rec.vendor,
        "features": rec.features,
        "driver_filename": rec.driver_filename,
        "required_cluster_stack": as_list(rec.required_cluster_stack),
        "supported_image_formats": as_list(rec.supported_image_formats),
    }
