"""``vm.set``: change a VM's properties (XO's params; the XAPI calls come from
:func:`xo.api.vm_edit.plan_vm_edit`, applied in order). ``vm.create`` applies its extra
properties the same way (:func:`apply_vm_edit`).
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import invalid_parameters
from xo.api.registry import Namespace
from xo.api.vm_edit import XapiCall, is_memory_constraint_error, plan_vm_edit
from xo.api.xapi_access import xapi_of
from xo.xapi.errors import XapiError

api = Namespace("vm")

# XO's params schema (xo-methods.json).
SET_PARAMS: dict[str, Any] = {
    "id": {"type": "string"},
    "auto_poweron": {"type": "boolean", "optional": True},
    "name_label": {"type": "string", "optional": True},
    "name_description": {"type": "string", "minLength": 0, "optional": True},
    "notes": {"type": ["string", "null"], "maxLength": 2048, "optional": True},
    "high_availability": {"optional": True, "enum": ["best-effort", "restart", ""]},
    "CPUs": {"type": "integer", "optional": True},
    "cpusMax": {"type": ["integer", "string"], "optional": True},
    "memory": {"type": ["integer", "string"], "optional": True},
    "memoryMin": {"type": ["integer", "string"], "optional": True},
    "memoryMax": {"type": ["integer", "string"], "optional": True},
    "memoryStaticMax": {"type": ["integer", "string"], "optional": True},
    "PV_args": {"type": "string", "optional": True},
    "cpuMask": {"type": "array", "items": {"type": "integer"}, "optional": True},
    "cpuWeight": {"type": ["integer", "null"], "optional": True},
    "cpuCap": {"type": ["integer", "null"], "optional": True},
    "affinityHost": {"type": ["string", "null"], "optional": True},
    "vga": {"type": "string", "optional": True},
    "videoram": {"type": "number", "optional": True},
    "coresPerSocket": {"type": ["string", "number", "null"], "optional": True},
    "hasVendorDevice": {"type": "boolean", "optional": True},
    "expNestedHvm": {"type": "boolean", "optional": True},
    "nestedVirt": {"type": "boolean", "optional": True},
    "resourceSet": {"type": ["string", "null"], "optional": True},
    "share": {"type": "boolean", "optional": True},
    "startDelay": {"type": "integer", "optional": True},
    "secureBoot": {"type": "boolean", "optional": True},
    "nicType": {"type": ["string", "null"], "optional": True},
    "hvmBootFirmware": {"type": ["string", "null"], "optional": True},
    "virtualizationMode": {"type": "string", "optional": True},
    "viridian": {"type": "boolean", "optional": True},
    "blockedOperations": {
        "type": "object",
        "optional": True,
        "properties": {"*": {"type": ["boolean", "null", "string"]}},
    },
    "creation": {
        "type": "object",
        "optional": True,
        "properties": {"user": {"type": "string", "optional": True}},
    },
    "suspendSr": {"type": ["string", "null"], "optional": True},
    "uefiMode": {"enum": ["setup", "user"], "optional": True},
    "xenStoreData": {
        "description": "properties that should be set or deleted (if null) in the VM XenStore",
        "optional": True,
        "type": "object",
        "additionalProperties": {"type": ["null", "string"]},
    },
}


async def run_calls(xapi: Any, calls: list[XapiCall]) -> None:
    for call in calls:
        try:
            await xapi.call(call.method, *call.params)
        except XapiError as error:
            if not is_memory_constraint_error(error.code):
                raise
            if call.refusal is not None:
                raise invalid_parameters(call.refusal) from error
            if call.fallback is None:
                raise
            await xapi.call(call.fallback.method, *call.fallback.params)


async def apply_vm_edit(
    ctx: CallContext, xapi: Any, vm_ref: str, pool_id: str, changes: dict[str, Any]
) -> None:
    """Apply XO-named ``changes`` to the VM ``vm_ref`` of pool ``pool_id``."""
    if not changes:
        return
    record = await xapi.call("VM.get_record", vm_ref)
    objects = ctx.services.objects
    pool = objects.get(pool_id) if objects is not None else None

    def ref_of(object_id: str) -> str:
        obj = objects.get(object_id) if objects is not None else None
        if obj is None:
            raise invalid_parameters(f"no such object {object_id}")
        return str(obj["_xapiRef"])

    calls = plan_vm_edit(
        record,
        changes,
        vm_ref=vm_ref,
        pool_ref=pool["_xapiRef"] if pool is not None else None,
        ref_of=ref_of,
    )
    await run_calls(xapi, calls)


@api.method(
    params=SET_PARAMS,
    resolve={
        "VM": ("id", ["VM", "VM-snapshot", "VM-template"], "administrate"),
        "suspendSr": ("suspendSr", "SR", "administrate"),
    },
    description="sets VM parameters",
)
async def set_(ctx: CallContext, *, VM: dict[str, Any], **changes: Any) -> None:  # noqa: N803
    await apply_vm_edit(ctx, xapi_of(ctx, VM), VM["_xapiRef"], VM["$pool"], changes)
