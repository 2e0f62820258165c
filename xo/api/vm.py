"""``vm.*``: VM power operations and simple properties, through the pool's XAPI.

Params, permissions and resolves are XO's (``api/vm.mjs``): power operations need ``operate`` on
the VM. Operations run as XAPI tasks (``Async.VM.*``); XAPI errors become XO errors through the
one table (VM_BAD_POWER_STATE -> 13...). The ObjectStore learns the outcome from the pool's
event stream, like every other change.
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import not_implemented
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of

api = Namespace("vm")

_ID = {"id": {"type": "string"}}


@api.method(
    params={
        "bypassMacAddressesCheck": {"type": "boolean", "optional": True},
        "force": {"type": "boolean", "optional": True},
        "host": {"type": "string", "optional": True},
        "id": {"type": "string"},
    },
    resolve={"vm": ("id", "VM", "operate"), "host": ("host", "host", "operate")},
    description="start a VM (on a given host)",
)
async def start(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    host: dict[str, Any] | None = None,
    force: bool | None = None,
    bypassMacAddressesCheck: bool | None = None,
) -> None:
    xapi = xapi_of(ctx, vm)
    if host is None:
        await xapi.call_async("VM.start", vm["_xapiRef"], False, bool(force))
    else:
        await xapi.call_async("VM.start_on", vm["_xapiRef"], host["_xapiRef"], False, bool(force))


@api.method(
    params={
        "id": {"type": "string"},
        "force": {"type": "boolean", "optional": True},
        "forceShutdownDelay": {"type": "number", "default": 0},
        "bypassBlockedOperation": {"type": "boolean", "optional": True},
    },
    resolve={"vm": ("id", "VM", "operate")},
    description="stop a VM (cleanly unless forced)",
)
async def stop(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    force: bool | None = None,
    forceShutdownDelay: float = 0,
    bypassBlockedOperation: bool | None = None,
) -> None:
    method = "VM.hard_shutdown" if force else "VM.clean_shutdown"
    await xapi_of(ctx, vm).call_async(method, vm["_xapiRef"])


@api.method(
    params={
        "id": {"type": "string"},
        "force": {"type": "boolean", "optional": True},
        "bypassBlockedOperation": {"type": "boolean", "optional": True},
    },
    resolve={"vm": ("id", "VM", "operate")},
    description="restart a VM (cleanly unless forced)",
)
async def restart(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    force: bool | None = None,
    bypassBlockedOperation: bool | None = None,
) -> None:
    method = "VM.hard_reboot" if force else "VM.clean_reboot"
    await xapi_of(ctx, vm).call_async(method, vm["_xapiRef"])


@api.method(params=_ID, resolve={"vm": ("id", "VM", "operate")}, description="suspend a VM")
async def suspend(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    await xapi_of(ctx, vm).call_async("VM.suspend", vm["_xapiRef"])


@api.method(
    params=_ID, resolve={"vm": ("id", "VM", "operate")}, description="resume a suspended VM"
)
async def resume(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    await xapi_of(ctx, vm).call_async("VM.resume", vm["_xapiRef"], False, False)


@api.method(params=_ID, resolve={"vm": ("id", "VM", "operate")}, description="pause a running VM")
async def pause(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    await xapi_of(ctx, vm).call_async("VM.pause", vm["_xapiRef"])


@api.method(
    params=_ID,
    resolve={"vm": ("id", "VM", "operate")},
    description="unpause a paused VM (not in XO, which uses vm.resume)",
)
async def unpause(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    await xapi_of(ctx, vm).call_async("VM.unpause", vm["_xapiRef"])


# vm.set: XO's full params schema (xo-methods.json); the properties below are applied, the others
# answer "not implemented" (code 0) until they are.
_SET_PARAMS: dict[str, Any] = {
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


@api.method(
    params=_SET_PARAMS,
    resolve={"vm": ("id", ["VM", "VM-snapshot", "VM-template"], "administrate")},
    description="sets VM parameters",
)
async def set_(ctx: CallContext, *, vm: dict[str, Any], **changes: Any) -> None:
    supported = {"name_label", "name_description", "auto_poweron", "CPUs"}
    unsupported = sorted(set(changes) - supported)
    if unsupported:
        raise not_implemented()
    xapi = xapi_of(ctx, vm)
    ref = vm["_xapiRef"]
    if "name_label" in changes:
        await xapi.call("VM.set_name_label", ref, changes["name_label"])
    if "name_description" in changes:
        await xapi.call("VM.set_name_description", ref, changes["name_description"])
    if "auto_poweron" in changes:
        await xapi.call("VM.remove_from_other_config", ref, "auto_poweron")
        if changes["auto_poweron"]:
            await xapi.call("VM.add_to_other_config", ref, "auto_poweron", "true")
    if "CPUs" in changes:
        if vm.get("power_state") == "Running":
            await xapi.call("VM.set_VCPUs_number_live", ref, changes["CPUs"])
        else:
            await xapi.call("VM.set_VCPUs_at_startup", ref, changes["CPUs"])
