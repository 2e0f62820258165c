"""``vm.create``: a new VM from a template (XO's ``createVm``), the common subset.

1. clone the template (``clone``, default) or copy it, named ``name_label``;
2. drop the template's provisioning disks (``other_config.disks``: XO creates disks itself),
   ``VM.provision``, mark it a plain VM, record ``creation`` (date, template, user);
3. apply the other properties as ``vm.set`` does (``CPUs``, ``memory``..., ``name_description``,
   ``pv_args``, ``affinityHost``, ``coresPerSocket``...: XO's ``'*'`` params);
4. ``installation`` ``{method: "cdrom", repository: <ISO VDI id>}`` inserts that ISO in a new
   bootable CD drive; ``{method: "network"}`` boots from the network first (HVM);
5. disks: ``VDIs`` ``[{size, SR, name_label?, name_description?}]`` are created and attached
   (the first one bootable unless a CD is); ``existingDisks`` ``{userdevice: {name_label?,
   name_description?, size?}}`` rename/grow the template's own disks;
6. network: the template's interfaces are replaced by ``VIFs`` ``[{network, mac?,
   allowedIpv4Addresses?, allowedIpv6Addresses?}]`` (none given: no interface, as XO);
7. ``bootAfterCreate`` starts it (a failure to start is logged, not raised, as XO).

Anything failing before the end destroys the half-made VM and its disks. Cloud-init, vGPUs,
vTPMs, resource sets, ACLs and moving existing disks to another SR answer "not implemented".
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import trio

from xo.api.context import CallContext
from xo.api.errors import invalid_parameters, not_implemented
from xo.api.new_objects import new_object_id
from xo.api.registry import Namespace
from xo.api.sizes import parse_size
from xo.api.vm_copies import copy_vm
from xo.api.vm_delete import destroy_vm
from xo.api.vm_set import apply_vm_edit
from xo.api.xapi_access import xapi_of
from xo.auth.related import on_link
from xo.xapi.errors import XapiError, XapiException

log = logging.getLogger(__name__)

api = Namespace("vm")

NULL_REF = "OpaqueRef:NULL"

# XO's params schema (xo-methods.json).
CREATE_PARAMS: dict[str, Any] = {
    "acls": {
        "type": "array",
        "optional": True,
        "items": {
            "type": "object",
            "properties": {"subject": {"type": "string"}, "action": {"type": "string"}},
        },
    },
    "affinityHost": {"type": "string", "optional": True},
    "bootAfterCreate": {"type": "boolean", "optional": True},
    "cloudConfig": {"type": "string", "optional": True},
    "createVtpm": {"type": "boolean", "default": False},
    "networkConfig": {"type": "string", "optional": True},
    "coreOs": {"type": "boolean", "optional": True},
    "clone": {"type": "boolean", "optional": True},
    "coresPerSocket": {"type": ["string", "number"], "optional": True},
    "resourceSet": {"type": "string", "optional": True},
    "destroyCloudConfigVdiAfterBoot": {"type": "boolean", "optional": True},
    "installation": {
        "type": "object",
        "optional": True,
        "properties": {"method": {"type": "string"}, "repository": {"type": "string"}},
    },
    "vgpuType": {"type": "string", "optional": True},
    "gpuGroup": {"type": "string", "optional": True},
    "name_label": {"type": "string"},
    "name_description": {"type": "string", "minLength": 0, "optional": True},
    "pv_args": {"type": "string", "optional": True},
    "share": {"type": "boolean", "optional": True},
    "template": {"type": "string"},
    "VIFs": {
        "optional": True,
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "network": {"type": "string"},
                "mac": {"optional": True, "type": "string"},
                "allowedIpv4Addresses": {
                    "optional": True,
                    "type": "array",
                    "items": {"type": "string"},
                },
                "allowedIpv6Addresses": {
                    "optional": True,
                    "type": "array",
                    "items": {"type": "string"},
                },
            },
        },
    },
    "VDIs": {
        "optional": True,
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "size": {"type": ["integer", "string"]},
                "SR": {"type": "string"},
                "type": {"type": "string"},
            },
            "additionalProperties": True,
        },
    },
    "existingDisks": {
        "optional": True,
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "size": {"type": ["integer", "string"], "optional": True},
                "$SR": {"type": "string", "optional": True},
            },
            "additionalProperties": True,
        },
    },
    "hvmBootFirmware": {"type": "string", "optional": True},
    "copyHostBiosStrings": {"type": "boolean", "optional": True},
    "*": {},
}

# Params handled here; every other one is a vm.set property.
_OWN = {
    "template", "name_label", "clone", "VDIs", "VIFs", "existingDisks", "installation",
    "bootAfterCreate", "createVtpm", "copyHostBiosStrings", "acls", "cloudConfig",
    "networkConfig", "coreOs", "destroyCloudConfigVdiAfterBoot", "vgpuType", "gpuGroup",
    "resourceSet", "share",
}  # fmt: skip
_UNSUPPORTED = (
    "cloudConfig", "networkConfig", "coreOs", "vgpuType", "gpuGroup", "resourceSet", "acls",
)  # fmt: skip


def _object(ctx: CallContext, object_id: str, types: tuple[str, ...], pool_id: str) -> dict:
    objects = ctx.services.objects
    obj = objects.get(object_id) if objects is not None else None
    if obj is None or obj.get("type") not in types or obj.get("$pool") != pool_id:
        raise invalid_parameters(f"no such {types[0]} {object_id} in the template's pool")
    return obj


def _vdi_record(name: str, description: str, sr_ref: str, size: int) -> dict[str, Any]:
    return {
        "name_label": name, "name_description": description, "SR": sr_ref,
        "virtual_size": size, "type": "user", "sharable": False, "read_only": False,
        "other_config": {}, "sm_config": {}, "xenstore_data": {}, "tags": [],
    }  # fmt: skip


def _vbd_record(vm: str, vdi: str, *, bootable: bool, cd: bool = False) -> dict[str, Any]:
    return {
        "VM": vm, "VDI": vdi, "userdevice": "autodetect", "bootable": bootable,
        "mode": "RO" if cd else "RW", "type": "CD" if cd else "Disk", "empty": vdi == NULL_REF,
        "unpluggable": True, "other_config": {}, "qos_algorithm_type": "",
        "qos_algorithm_params": {},
    }  # fmt: skip


async def _install(ctx: CallContext, xapi: Any, vm: str, pool: str, install: dict) -> bool:
    """Set up the installation; True when the VM boots from a CD."""
    method = install.get("method")
    if method == "cdrom":
        iso = _object(ctx, install.get("repository", ""), ("VDI",), pool)
        await xapi.call("VBD.create", _vbd_record(vm, iso["_xapiRef"], bootable=True, cd=True))
        order = "dcn"
    elif method == "network":
        order = "ncd"
    else:
        raise invalid_parameters(f"unsupported installation method {method!r}")
    current = (await xapi.call("VM.get_HVM_boot_params", vm)).get("order")
    if current:
        first = order[0]
        order = first + current.replace(first, "")
    await xapi.call("VM.remove_from_HVM_boot_params", vm, "order")
    await xapi.call("VM.add_to_HVM_boot_params", vm, "order", order)
    return method == "cdrom"


async def _vbd_at(xapi: Any, vm: str, userdevice: str) -> str | None:
    for vbd in await xapi.call("VM.get_VBDs", vm):
        if await xapi.call("VBD.get_userdevice", vbd) == userdevice:
            return str(vbd)
    return None


async def _existing_disks(ctx: CallContext, xapi: Any, vm: str, disks: dict) -> None:
    for userdevice, changes in disks.items():
        vbd = await _vbd_at(xapi, vm, str(userdevice))
        if vbd is None:
            continue  # as XO: a disk the template does not have is ignored
        vdi = await xapi.call("VBD.get_VDI", vbd)
        if changes.get("$SR") and changes["$SR"] != await _sr_id(ctx, xapi, vdi):
            raise not_implemented()  # moving a template disk to another SR
        for field in ("name_label", "name_description"):
            if field in changes:
                await xapi.call(f"VDI.set_{field}", vdi, changes[field])
        if changes.get("size") is not None:
            size = parse_size(changes["size"])
            if size > int(await xapi.call("VDI.get_virtual_size", vdi)):
                await xapi.call_async("VDI.resize", vdi, size)


async def _disks(ctx: CallContext, xapi: Any, vm: str, pool: str, params: dict, cd: bool) -> None:
    await _existing_disks(ctx, xapi, vm, params.get("existingDisks") or {})
    bootable = not cd and not any(
        [await xapi.call("VBD.get_bootable", v) for v in await xapi.call("VM.get_VBDs", vm)]
    )
    for index, disk in enumerate(params.get("VDIs") or ()):
        sr = _object(ctx, disk.get("SR", ""), ("SR",), pool)
        record = _vdi_record(
            disk.get("name_label") or f"{params['name_label']} {index}",
            disk.get("name_description", ""),
            sr["_xapiRef"],
            parse_size(disk["size"]),
        )
        vdi = await xapi.call_async("VDI.create", record)
        await xapi.call("VBD.create", _vbd_record(vm, vdi, bootable=bootable and index == 0))


async def _sr_id(ctx: CallContext, xapi: Any, vdi: str) -> str | None:
    obj = ctx.services.objects.get_by_ref(await xapi.call("VDI.get_SR", vdi)) if ctx.services.objects else None  # fmt: skip
    return None if obj is None else obj["id"]


async def _vifs(ctx: CallContext, xapi: Any, vm: str, pool: str, vifs: list[dict]) -> None:
    for vif in await xapi.call("VM.get_VIFs", vm):
        await xapi.call("VIF.destroy", vif)
    for device, vif in enumerate(vifs):
        network = _object(ctx, vif.get("network", ""), ("network",), pool)
        ipv4 = vif.get("allowedIpv4Addresses") or []
        ipv6 = vif.get("allowedIpv6Addresses") or []
        await xapi.call(
            "VIF.create",
            {
                "device": str(device), "network": network["_xapiRef"], "VM": vm,
                "MAC": vif.get("mac") or "", "MTU": network.get("MTU") or 1500,
                "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
                "locking_mode": "locked" if ipv4 or ipv6 else "network_default",
                "ipv4_allowed": ipv4, "ipv6_allowed": ipv6,
            },
        )  # fmt: skip


async def _build(ctx: CallContext, xapi: Any, vm: str, template: dict, params: dict) -> None:
    pool = template["$pool"]
    try:
        await xapi.call("VM.remove_from_other_config", vm, "disks")
    except XapiError as error:
        log.debug("could not drop provisioning disks of %s: %s", vm, error)
    await xapi.call_async("VM.provision", vm)
    if await xapi.call("VM.get_is_a_template", vm):
        await xapi.call("VM.set_is_a_template", vm, False)
    creation = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "template": template["uuid"],
        "user": ctx.user.id if ctx.user is not None else None,
    }
    edits = {k: v for k, v in params.items() if k not in _OWN}
    await apply_vm_edit(ctx, xapi, vm, pool, {**edits, "creation": creation})
    if params.get("copyHostBiosStrings"):
        objects = ctx.services.objects
        master = ((objects.get(pool) if objects is not None else None) or {}).get("master")
        host = _object(ctx, str(params.get("affinityHost") or master), ("host",), pool)
        await xapi.call_async("VM.copy_bios_strings", vm, host["_xapiRef"])
    cd = False
    if params.get("installation"):
        cd = await _install(ctx, xapi, vm, pool, params["installation"])
    await _disks(ctx, xapi, vm, pool, params, cd)
    await _vifs(ctx, xapi, vm, pool, params.get("VIFs") or [])


@api.method(
    params=CREATE_PARAMS,
    # XO resolves the template without a right and checks `administrate` on its pool in the
    # body; here both are declared (a pool right also covers its templates).
    resolve={"template": ("template", "VM-template", "administrate")},
    requires=on_link("template", "$pool", "administrate"),
    description="creates a new VM from a template; returns its id",
)
async def create(ctx: CallContext, *, template: dict[str, Any], **params: Any) -> str:
    for name in _UNSUPPORTED:
        if params.get(name):
            raise not_implemented()
    if params.get("createVtpm") or params.get("share"):
        raise not_implemented()
    xapi = xapi_of(ctx, template)
    name = params["name_label"]
    if params.get("clone", True):
        vm = str(await xapi.call_async("VM.clone", template["_xapiRef"], name))
    else:
        vm = await copy_vm(xapi, template, name)
    try:
        await _build(ctx, xapi, vm, template, params)
        vm_id = await new_object_id(ctx, xapi, "VM", vm, template["$pool"])
    except BaseException:
        with trio.CancelScope(shield=True):
            try:
                await destroy_vm(xapi, vm, bypass_blocked_operation=True, force_delete_default_template=True)  # fmt: skip
            except XapiException as error:
                log.warning("could not destroy the half-made VM %s: %s", vm, error)
        raise
    if params.get("bootAfterCreate"):
        try:
            await xapi.call_async("VM.start", vm, False, False)
        except XapiException as error:
            log.warning("created VM %s did not start: %s", vm_id, error)
    return vm_id
