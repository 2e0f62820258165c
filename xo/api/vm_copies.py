"""``vm.clone``, ``vm.copy`` (within a pool), ``vm.snapshot``, ``vm.revert``,
``vm.convertToTemplate``: the VM methods that make or restore copies (XO's ``api/vm.mjs``).

New objects are answered with their XO id once they are in the ObjectStore
(:mod:`xo.api.new_objects`), so the client's next call can use them. As XO:

- a running VM is copied from a temporary snapshot (destroyed afterwards);
- clones and copies of VMs and snapshots are plain VMs (``is_a_template`` false), of templates
  stay templates;
- ``vm.snapshot`` names the snapshot ``<name_label>_<ISO date>`` by default, leaves out disks
  tagged ``[NOSNAP]``, and with ``saveMemory`` makes a checkpoint;
- ``vm.revert`` restarts (or resumes) the VM when it was running at snapshot time.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import trio

from xo.api.context import CallContext
from xo.api.errors import not_implemented
from xo.api.new_objects import new_object_id
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of
from xo.auth.related import on_link, operate_disk_srs
from xo.xapi.errors import XapiError, XapiException

log = logging.getLogger(__name__)

api = Namespace("vm")

NULL_REF = "OpaqueRef:NULL"
NOSNAP_TAG = "[NOSNAP]"
_ANY_VM = ["VM", "VM-snapshot", "VM-template"]


async def _destroy_quietly(xapi: Any, vm_ref: str) -> None:
    """Roll back a VM we created (its disks were made for it: they go too)."""
    with trio.CancelScope(shield=True):
        try:
            vbds = await xapi.call("VM.get_VBDs", vm_ref)
            vdis = [await xapi.call("VBD.get_VDI", vbd) for vbd in vbds]
            await xapi.call("VM.destroy", vm_ref)
            for vdi in vdis:
                if vdi != NULL_REF:
                    await xapi.call("VDI.destroy", vdi)
        except XapiException as error:
            log.warning("could not roll back VM %s: %s", vm_ref, error)


async def copy_vm(xapi: Any, vm: dict[str, Any], name: str, sr_ref: str = NULL_REF) -> str:
    """``VM.copy`` (full copy of every disk, on ``sr_ref`` or next to the originals)."""
    source = vm["_xapiRef"]
    snapshot = None
    if vm.get("power_state") != "Halted" and vm.get("type") == "VM":
        snapshot = await xapi.call_async("VM.snapshot", source, name)
        source = snapshot
    try:
        return str(await xapi.call_async("VM.copy", source, name, sr_ref))
    finally:
        if snapshot is not None:
            await _destroy_quietly(xapi, snapshot)


async def _finish_copy(ctx: CallContext, xapi: Any, vm: dict[str, Any], new_ref: str) -> str:
    try:
        if vm["type"] != "VM-template":
            await xapi.call("VM.set_is_a_template", new_ref, False)
        return await new_object_id(ctx, xapi, "VM", new_ref, vm["$pool"])
    except BaseException:
        await _destroy_quietly(xapi, new_ref)
        raise


@api.method(
    params={
        "id": {"type": "string"},
        "name": {"type": "string"},
        "full_copy": {"type": "boolean"},
    },
    resolve={"vm": ("id", _ANY_VM, "administrate")},
    requires=operate_disk_srs("vm"),  # the new disks are made on the same SRs
    description="clone a VM (fast clone, or full copy of its disks)",
)
async def clone(ctx: CallContext, *, vm: dict[str, Any], name: str, full_copy: bool) -> str:
    xapi = xapi_of(ctx, vm)
    if full_copy:
        new_ref = await copy_vm(xapi, vm, name)
    else:
        new_ref = str(await xapi.call_async("VM.clone", vm["_xapiRef"], name))
    return await _finish_copy(ctx, xapi, vm, new_ref)


@api.method(
    params={
        "compress": {"type": ["boolean", "string"], "optional": True},
        "name": {"type": "string", "optional": True},
        "vm": {"type": "string"},
        "sr": {"type": "string"},
    },
    resolve={"vm": ("vm", _ANY_VM, "administrate"), "sr": ("sr", "SR", "operate")},
    requires=operate_disk_srs("vm"),  # the disks are read (and snapshotted) there
    description="copy a VM and its disks to an SR",
)
async def copy(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    sr: dict[str, Any],
    name: str | None = None,
    compress: bool | str | None = None,
) -> str:
    if vm["$pool"] != sr["$pool"]:
        raise not_implemented()  # copies across pools go through XVA export/import (vm.import)
    xapi = xapi_of(ctx, vm)
    new_ref = await copy_vm(xapi, vm, name or vm["name_label"], sr["_xapiRef"])
    return await _finish_copy(ctx, xapi, vm, new_ref)


async def _nosnap_vdis(xapi: Any, vm_ref: str) -> list[str]:
    """The VM's disks tagged ``[NOSNAP]`` (left out of snapshots, as XO does)."""
    vdis = []
    for vbd in await xapi.call("VM.get_VBDs", vm_ref):
        vdi = await xapi.call("VBD.get_VDI", vbd)
        if vdi != NULL_REF and NOSNAP_TAG in (await xapi.call("VDI.get_tags", vdi)):
            vdis.append(vdi)
    return vdis


@api.method(
    params={
        "description": {"type": "string", "minLength": 0, "optional": True},
        "id": {"type": "string"},
        "name": {"type": "string", "optional": True},
        "saveMemory": {"type": "boolean", "optional": True},
    },
    resolve={"vm": ("id", "VM", "operate")},
    requires=operate_disk_srs("vm"),  # the snapshot's disks are made on the same SRs
    description="snapshot a VM (with its memory when saveMemory); returns the snapshot's id",
)
async def snapshot(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    name: str | None = None,
    saveMemory: bool = False,
    description: str | None = None,
) -> str:
    xapi = xapi_of(ctx, vm)
    ref = vm["_xapiRef"]
    if name is None:
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        name = f"{vm['name_label']}_{now.replace('+00:00', 'Z')}"
    if saveMemory:
        snap = str(await xapi.call_async("VM.checkpoint", ref, name))
    else:
        ignored = await _nosnap_vdis(xapi, ref)
        params = (ref, name, ignored) if ignored else (ref, name)
        snap = str(await xapi.call_async("VM.snapshot", *params))
    try:
        try:
            await xapi.call("VM.set_is_a_template", snap, False)
        except XapiError as error:
            if error.code != "LICENSE_RESTRICTION":
                raise
        if description is not None:
            await xapi.call("VM.set_name_description", snap, description)
        return await new_object_id(ctx, xapi, "VM", snap, vm["$pool"])
    except BaseException:
        await _destroy_quietly(xapi, snap)
        raise


@api.method(
    params={"snapshot": {"type": "string"}},
    resolve={"snapshot": ("snapshot", "VM-snapshot", "view")},
    requires=on_link("snapshot", "$snapshot_of", "operate"),  # reverting changes that VM
    description="revert a VM to one of its snapshots",
)
async def revert(ctx: CallContext, *, snapshot: dict[str, Any]) -> None:
    xapi = xapi_of(ctx, snapshot)
    ref = snapshot["_xapiRef"]
    info = await xapi.call("VM.get_snapshot_info", ref)
    vm_ref = await xapi.call("VM.get_snapshot_of", ref)
    await xapi.call_async("VM.revert", ref)
    if info.get("power-state-at-snapshot") != "Running":
        return
    # As XO: bring the VM back to running, without failing the revert if that does not work.
    try:
        state = await xapi.call("VM.get_power_state", vm_ref)
        if state == "Halted":
            await xapi.call_async("VM.start", vm_ref, False, False)
        elif state == "Suspended":
            await xapi.call_async("VM.resume", vm_ref, False, True)
    except XapiException as error:
        log.warning("reverted VM %s could not be restarted: %s", vm_ref, error)


@api.method(
    params={"id": {"type": "string"}},
    resolve={"vm": ("id", ["VM", "VM-snapshot"], "administrate")},
    description="turn a VM (or snapshot) into a template",
)
async def convertToTemplate(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    xapi = xapi_of(ctx, vm)
    ref = vm["_xapiRef"]
    for vbd in await xapi.call("VM.get_VBDs", ref):
        try:
            await xapi.call_async("VBD.eject", vbd)
        except XapiError as error:
            if error.code not in ("VBD_IS_EMPTY", "VBD_NOT_REMOVABLE_MEDIA"):
                raise
    await xapi.call("VM.set_is_a_template", ref, True)


api.alias("convert", "convertToTemplate")
