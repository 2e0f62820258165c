"""``vm.delete``: destroy a VM, snapshot or template, with its snapshots and (by default) its
disks (XO's ``VM_destroy`` in ``@xen-orchestra/xapi/vm.mjs``).

- a VM whose ``destroy`` operation is blocked is refused (code 5) unless
  ``forceBlockedOperation`` (default: ``force``);
- a default template is refused (code 25, property ``isDefaultTemplate``) unless
  ``forceDeleteDefaultTemplate`` (default: ``force``);
- a VM that is not halted is hard-shut-down first;
- after ``VM.destroy``: its snapshots are deleted the same way, and with ``deleteDisks`` (the
  default) its disks too, except CDs and disks still attached to another (non-dom0) VM.
  Failures there are logged, not raised: the VM is gone, which is what the caller asked.
"""

from __future__ import annotations

import logging
from typing import Any

from xo.api.context import CallContext
from xo.api.errors import forbidden_operation, incorrect_state
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of
from xo.xapi.errors import XapiError, XapiException

log = logging.getLogger(__name__)

api = Namespace("vm")

NULL_REF = "OpaqueRef:NULL"


def _is_default_template(record: dict[str, Any]) -> bool:
    return bool(record.get("is_default_template")) or (
        (record.get("other_config") or {}).get("default_template") == "true"
    )


async def _disks(xapi: Any, record: dict[str, Any]) -> list[str]:
    """The VDIs of the VM's (non-CD) VBDs."""
    vdis = []
    for vbd in record["VBDs"]:
        vbd_record = await xapi.call("VBD.get_record", vbd)
        if vbd_record["type"] != "CD" and vbd_record["VDI"] != NULL_REF:
            vdis.append(vbd_record["VDI"])
    return vdis


async def _used_elsewhere(xapi: Any, vdi: str, vm_ref: str) -> bool:
    for vbd in await xapi.call("VDI.get_VBDs", vdi):
        other = await xapi.call("VBD.get_VM", vbd)
        if other != vm_ref and not await xapi.call("VM.get_is_control_domain", other):
            return True
    return False


async def destroy_vm(
    xapi: Any,
    vm_ref: str,
    *,
    delete_disks: bool = True,
    bypass_blocked_operation: bool = False,
    force_delete_default_template: bool = False,
    object_id: str | None = None,
) -> None:
    """Destroy ``vm_ref`` as XO's ``VM_destroy`` does (see the module docstring)."""
    record = await xapi.call("VM.get_record", vm_ref)
    blocked = record.get("blocked_operations") or {}
    if not bypass_blocked_operation and "destroy" in blocked:
        reason = blocked["destroy"]
        if reason == "true":
            reason = "protected from accidental deletion"
        raise forbidden_operation(f"destroy is blocked: {reason}")
    if not force_delete_default_template and _is_default_template(record):
        raise incorrect_state(
            actual=True,
            expected=False,
            object=object_id or record.get("uuid"),
            property="isDefaultTemplate",
        )
    if force_delete_default_template:
        try:
            await xapi.call("VM.set_is_default_template", vm_ref, False)
        except XapiError as error:
            if error.code != "MESSAGE_METHOD_UNKNOWN":
                raise
        await xapi.call("VM.remove_from_other_config", vm_ref, "default_template")
    if record.get("is_a_template"):
        await xapi.call("VM.set_is_a_template", vm_ref, False)
    if bypass_blocked_operation:
        await xapi.call("VM.remove_from_blocked_operations", vm_ref, "destroy")
        if record["power_state"] != "Halted":
            await xapi.call("VM.remove_from_blocked_operations", vm_ref, "hard_shutdown")
    if record["power_state"] != "Halted":
        await xapi.call_async("VM.hard_shutdown", vm_ref)
    disks = await _disks(xapi, record)
    await xapi.call_async("VM.destroy", vm_ref)
    for snapshot in record.get("snapshots") or ():
        try:
            await destroy_vm(xapi, snapshot, delete_disks=delete_disks)
        except XapiException as error:
            log.warning("could not delete snapshot %s of %s: %s", snapshot, vm_ref, error)
    if not delete_disks:
        return
    for vdi in disks:
        try:
            if not await _used_elsewhere(xapi, vdi, vm_ref):
                await xapi.call_async("VDI.destroy", vdi)
        except XapiException as error:
            log.warning("could not delete disk %s of %s: %s", vdi, vm_ref, error)


@api.method(
    params={
        "id": {"type": "string"},
        "deleteDisks": {"optional": True, "type": "boolean"},
        "force": {"optional": True, "type": "boolean"},
        "forceDeleteDefaultTemplate": {"optional": True, "type": "boolean"},
        "forceBlockedOperation": {"optional": True, "type": "boolean"},
    },
    resolve={"vm": ("id", ["VM", "VM-snapshot", "VM-template"], "administrate")},
    description="delete a VM, snapshot or template, with its snapshots and disks",
)
async def delete_(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    deleteDisks: bool = True,
    force: bool = False,
    forceDeleteDefaultTemplate: bool | None = None,
    forceBlockedOperation: bool | None = None,
) -> None:
    await destroy_vm(
        xapi_of(ctx, vm),
        vm["_xapiRef"],
        delete_disks=deleteDisks,
        bypass_blocked_operation=force if forceBlockedOperation is None else forceBlockedOperation,
        force_delete_default_template=(
            force if forceDeleteDefaultTemplate is None else forceDeleteDefaultTemplate
        ),
        object_id=vm["id"],
    )
    # As XO: the rights granted on a deleted VM go with it, so acl.get keeps no dangling entries.
    if await ctx.store.remove_object_acls(vm["id"]):
        await ctx.services.rights_changed()
