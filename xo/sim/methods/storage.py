"""``VDI.*``, ``VBD.*`` and ``SR.*`` messages beyond the implicit ones."""

from __future__ import annotations

from typing import Any

from xo.sim import vm_copy
from xo.sim.errors import XapiFailure
from xo.sim.methods.implicit import record_fields
from xo.sim.methods.registry import Call, handler
from xo.sim.schema import NULL_REF, SCHEMAS

_VDI_OPS = ["clone", "copy", "snapshot", "resize", "destroy", "update", "generate_config", "force_unlock"]


@handler("VDI.create")
async def vdi_create(call: Call, args: dict[str, Any]) -> str:
    fields = record_fields(SCHEMAS["VDI"], args)
    sr = fields.get("SR", NULL_REF)
    sr_rec = call.db.get("SR", sr)
    size = fields.get("virtual_size", 0)
    if size < 0:
        raise XapiFailure("INVALID_VALUE", "virtual_size", str(size))
    if sr_rec["physical_size"] and sr_rec["physical_utilisation"] + size > sr_rec["physical_size"] * 4:
        raise XapiFailure("SR_FULL", size, sr_rec["physical_size"] - sr_rec["physical_utilisation"])
    await call.work(call.pool.timing.delay("vdi_op"))
    uuid = call.db.ids.uuid()
    fields.setdefault("type", "user")
    ref = call.db.create(
        "VDI",
        {**fields, "uuid": uuid, "location": uuid, "managed": True, "allowed_operations": _VDI_OPS, "physical_utilisation": 0, "sm_config": {"image-format": "vhd", **fields.get("sm_config", {})}},  # fmt: skip
    )
    call.pool.disks.create_empty(ref, size)
    vm_copy.account_sr(call.db, sr, size)
    return ref


@handler("VDI.destroy")
async def vdi_destroy(call: Call, vdi: str) -> None:
    call.db.get("VDI", vdi)
    await call.work(call.pool.timing.delay("vdi_op"))
    vm_copy.destroy_vdi(call.db, call.pool.disks, vdi)


@handler("VDI.clone")
async def vdi_clone(call: Call, vdi: str, driver_params: dict[str, str] | None = None) -> str:
    call.db.get("VDI", vdi)
    await call.work(call.pool.timing.delay("vdi_op"))
    return vm_copy.copy_vdi(call.db, call.pool.disks, vdi)


@handler("VDI.snapshot")
async def vdi_snapshot(call: Call, vdi: str, driver_params: dict[str, str] | None = None) -> str:
    call.db.get("VDI", vdi)
    await call.work(call.pool.timing.delay("vdi_op"))
    return vm_copy.copy_vdi(call.db, call.pool.disks, vdi, snapshot=True)


@handler("VDI.copy")
async def vdi_copy(call: Call, vdi: str, sr: str, base_vdi: str = NULL_REF, into_vdi: str = NULL_REF) -> str:
    src = call.db.get("VDI", vdi)
    call.db.get("SR", sr)
    await call.work(call.pool.timing.delay("vdi_op"))
    if into_vdi != NULL_REF:
        target = call.db.get("VDI", into_vdi)
        if target["virtual_size"] < src["virtual_size"]:
            raise XapiFailure("VDI_TOO_SMALL", into_vdi, target["virtual_size"], src["virtual_size"])
        disks = call.pool.disks
        for block in disks.allocated_blocks(vdi):
            offset = block << 20
            disks.write(into_vdi, offset, disks.read(vdi, offset, 1 << 20))
        return into_vdi
    return vm_copy.copy_vdi(call.db, call.pool.disks, vdi, sr=sr)


@handler("VDI.resize", "VDI.resize_online")
async def vdi_resize(call: Call, vdi: str, size: int) -> None:
    rec = call.db.get("VDI", vdi)
    if size < rec["virtual_size"]:
        raise XapiFailure("SR_BACKEND_FAILURE_79", "", "VDI Invalid size: shrinking is not supported", "")
    await call.work(call.pool.timing.delay("vdi_op"))
    if call.pool.disks.exists(vdi):
        call.pool.disks.resize(vdi, size)
    else:
        call.pool.disks.create_empty(vdi, size)
    call.db.update("VDI", vdi, virtual_size=size)
    vm_copy.account_sr(call.db, rec["SR"], size - rec["virtual_size"])


@handler("SR.scan")
async def sr_scan(call: Call, sr: str) -> None:
    call.db.get("SR", sr)
    await call.work(call.pool.timing.delay("vdi_op"))


# --- VBD ----------------------------------------------------------------------------------------


@handler("VBD.create")
async def vbd_create(call: Call, args: dict[str, Any]) -> str:
    fields = record_fields(SCHEMAS["VBD"], args)
    vm = call.db.get("VM", fields.get("VM", NULL_REF))
    vdi = fields.get("VDI", NULL_REF)
    if vdi != NULL_REF:
        call.db.get("VDI", vdi)
    userdevice = fields.get("userdevice", "autodetect")
    used = {call.db.get("VBD", v)["userdevice"] for v in vm["VBDs"]}
    if userdevice in ("", "autodetect"):
        userdevice = next(str(n) for n in range(256) if str(n) not in used)
    elif userdevice in used:
        raise XapiFailure("DEVICE_ALREADY_EXISTS", userdevice)
    fields["userdevice"] = userdevice
    fields.setdefault("device", f"xvd{chr(ord('a') + int(userdevice))}" if userdevice.isdigit() and int(userdevice) < 26 else "")
    fields["empty"] = vdi == NULL_REF
    fields["currently_attached"] = False
    return call.db.create("VBD", fields)


def _device_op(call: Call, cls: str, ref: str, attach: bool) -> dict[str, Any]:
    rec = call.db.get(cls, ref)
    vm = call.db.get("VM", rec["VM"])
    if vm["power_state"] != "Running":
        raise XapiFailure("VM_BAD_POWER_STATE", rec["VM"], "running", vm["power_state"].lower())
    if attach and rec["currently_attached"]:
        raise XapiFailure("DEVICE_ALREADY_ATTACHED", ref)
    if not attach and not rec["currently_attached"]:
        raise XapiFailure("DEVICE_ALREADY_DETACHED", ref)
    return rec


async def _set_attached(call: Call, cls: str, ref: str, attach: bool) -> None:
    """VBD/VIF plug and unplug: the same checks, delay and field for both classes."""
    _device_op(call, cls, ref, attach)
    await call.work(call.pool.timing.delay("device_plug"))
    call.db.update(cls, ref, currently_attached=attach)


def _destroy_detached(call: Call, cls: str, ref: str) -> None:
    if call.db.get(cls, ref)["currently_attached"]:
        raise XapiFailure("OPERATION_NOT_ALLOWED", f"{cls} is currently attached")
    call.db.destroy(cls, ref)


@handler("VBD.plug")
async def vbd_plug(call: Call, vbd: str) -> None:
    await _set_attached(call, "VBD", vbd, True)


@handler("VBD.unplug", "VBD.unplug_force")
async def vbd_unplug(call: Call, vbd: str) -> None:
    await _set_attached(call, "VBD", vbd, False)


@handler("VBD.destroy")
async def vbd_destroy(call: Call, vbd: str) -> None:
    _destroy_detached(call, "VBD", vbd)


@handler("VBD.insert")
async def vbd_insert(call: Call, vbd: str, vdi: str) -> None:
    rec = call.db.get("VBD", vbd)
    call.db.get("VDI", vdi)
    if rec["type"] != "CD":
        raise XapiFailure("VBD_NOT_REMOVABLE_MEDIA", vbd)
    if not rec["empty"]:
        raise XapiFailure("VBD_NOT_EMPTY", vbd)
    call.db.update("VBD", vbd, VDI=vdi, empty=False)


@handler("VBD.eject")
async def vbd_eject(call: Call, vbd: str) -> None:
    rec = call.db.get("VBD", vbd)
    if rec["type"] != "CD":
        raise XapiFailure("VBD_NOT_REMOVABLE_MEDIA", vbd)
    if rec["empty"]:
        raise XapiFailure("VBD_IS_EMPTY", vbd)
    call.db.update("VBD", vbd, VDI=NULL_REF, empty=True)


# --- VIF ----------------------------------------------------------------------------------------


@handler("VIF.create")
async def vif_create(call: Call, args: dict[str, Any]) -> str:
    fields = record_fields(SCHEMAS["VIF"], args)
    vm = call.db.get("VM", fields.get("VM", NULL_REF))
    call.db.get("network", fields.get("network", NULL_REF))
    used = {call.db.get("VIF", v)["device"] for v in vm["VIFs"]}
    device = fields.get("device", "")
    if device in used:
        raise XapiFailure("DEVICE_ALREADY_EXISTS", device)
    if not device:
        fields["device"] = next(str(n) for n in range(64) if str(n) not in used)
    if not fields.get("MAC"):
        fields["MAC"] = vm_copy.random_mac(call.db)
        fields["MAC_autogenerated"] = True
    fields.setdefault("MTU", 1500)
    fields["currently_attached"] = False
    return call.db.create("VIF", fields)


@handler("VIF.plug")
async def vif_plug(call: Call, vif: str) -> None:
    await _set_attached(call, "VIF", vif, True)


@handler("VIF.unplug", "VIF.unplug_force")
async def vif_unplug(call: Call, vif: str) -> None:
    await _set_attached(call, "VIF", vif, False)


@handler("VIF.destroy")
async def vif_destroy(call: Call, vif: str) -> None:
    _destroy_detached(call, "VIF", vif)
