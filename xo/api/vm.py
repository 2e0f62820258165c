"""``vm.*`` power operations and migration, through the pool's XAPI (XO's ``api/vm.mjs``).

Names, params, permissions and resolves are XO's; semantics too:

- ``vm.start`` on a Paused VM unpauses it and on a Suspended one resumes it (XO's ``startVm``);
  ``force`` lifts the ``start`` blocked operations; unless ``bypassMacAddressesCheck`` (default:
  ``force``), a VM whose MAC addresses are duplicated (within itself or with a running VM)
  does not start (``operation failed``, code 21, ``DUPLICATED_MAC_ADDRESS``);
- ``vm.stop``: ``force`` -> hard shutdown; else clean shutdown, turned into a hard one after
  ``forceShutdownDelay`` ms when that is not 0; a VM without PV drivers -> code 10;
- ``bypassBlockedOperation`` (default: ``force``) lifts the blocked shutdown/reboot operations
  for the call and puts them back afterwards;
- ``vm.migrate`` within a pool is ``VM.pool_migrate``.

Each method returns when XAPI's task finishes; the ObjectStore learns the new state from the
pool's events. Other ``vm.*`` methods: :mod:`.vm_copies`, :mod:`.vm_delete`, :mod:`.vm_set`,
:mod:`.vm_create`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import trio

from xo.api.context import CallContext
from xo.api.errors import (
    forbidden_operation,
    invalid_parameters,
    not_implemented,
    operation_failed,
)
from xo.api.pool import migration_network
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of
from xo.xapi.errors import XapiError

api = Namespace("vm")

_ID = {"id": {"type": "string"}}
_OPERATE_VM = {"vm": ("id", "VM", "operate")}
SHUTDOWN_OPERATIONS = ("shutdown", "clean_shutdown", "hard_shutdown")
RESTART_OPERATIONS = ("reboot", "clean_reboot", "hard_reboot")


@asynccontextmanager
async def unblocked(
    xapi: Any, vm: dict[str, Any], operations: Iterable[str], *, enabled: bool = True
) -> AsyncIterator[None]:
    """Lift the VM's blocked ``operations`` for the body, then block them again."""
    blocked = vm.get("blockedOperations") or {}
    lifted = {op: blocked[op] for op in operations if enabled and op in blocked}
    ref = vm["_xapiRef"]
    for operation in lifted:
        await xapi.call("VM.remove_from_blocked_operations", ref, operation)
    try:
        yield
    finally:
        with trio.CancelScope(shield=True):
            for operation, reason in lifted.items():
                await xapi.call("VM.add_to_blocked_operations", ref, operation, reason)


def _has_duplicate_macs(ctx: CallContext, vm: dict[str, Any]) -> bool:
    objects = ctx.services.objects
    if objects is None:
        return False

    def macs(of: dict[str, Any]) -> list[str]:
        vifs = (objects.get(vif_id) for vif_id in of.get("VIFs") or ())
        return [vif["MAC"] for vif in vifs if vif is not None and vif.get("MAC")]

    own = macs(vm)
    if len(set(own)) != len(own):
        return True
    others = {
        mac
        for obj in objects.values()
        if obj.get("type") == "VM" and obj.get("power_state") == "Running" and obj["id"] != vm["id"]
        for mac in macs(obj)
    }
    return any(mac in others for mac in own)


@api.method(
    params={
        "bypassMacAddressesCheck": {"type": "boolean", "optional": True},
        "force": {"type": "boolean", "optional": True},
        "host": {"type": "string", "optional": True},
        "id": {"type": "string"},
    },
    resolve={"host": ("host", "host", "operate"), "vm": ("id", "VM", "operate")},
    description="start a VM (on a given host); unpauses a paused VM, resumes a suspended one",
)
async def start(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    host: dict[str, Any] | None = None,
    force: bool = False,
    bypassMacAddressesCheck: bool | None = None,
) -> None:
    xapi = xapi_of(ctx, vm)
    ref = vm["_xapiRef"]
    check_macs = not (force if bypassMacAddressesCheck is None else bypassMacAddressesCheck)
    if check_macs and _has_duplicate_macs(ctx, vm):
        raise operation_failed(vm["id"], "DUPLICATED_MAC_ADDRESS")
    if force:
        for operation in ("start", "start_on"):
            await xapi.call("VM.remove_from_blocked_operations", ref, operation)
    try:
        if host is None:
            await xapi.call_async("VM.start", ref, False, False)
        else:
            await xapi.call_async("VM.start_on", ref, host["_xapiRef"], False, False)
    except XapiError as error:
        if error.code == "OPERATION_BLOCKED":
            reason = error.params[1] if len(error.params) > 1 else None
            raise forbidden_operation("Start", reason) from error
        actual = error.params[2] if len(error.params) > 2 else None
        if error.code != "VM_BAD_POWER_STATE" or actual not in ("paused", "suspended"):
            raise
        if actual == "paused":
            await xapi.call_async("VM.unpause", ref)
        else:
            await xapi.call_async("VM.resume", ref, False, True)


@api.method(
    params={
        "id": {"type": "string"},
        "force": {"type": "boolean", "optional": True},
        "forceShutdownDelay": {"type": "number", "default": 0},
        "bypassBlockedOperation": {"type": "boolean", "optional": True},
    },
    resolve=_OPERATE_VM,
    description="stop a VM (cleanly unless forced)",
)
async def stop(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    force: bool = False,
    forceShutdownDelay: float = 0,
    bypassBlockedOperation: bool | None = None,
) -> None:
    xapi = xapi_of(ctx, vm)
    ref = vm["_xapiRef"]
    bypass = force if bypassBlockedOperation is None else bypassBlockedOperation
    async with unblocked(xapi, vm, SHUTDOWN_OPERATIONS, enabled=bypass):
        if force:
            await xapi.call_async("VM.hard_shutdown", ref)
            return
        try:
            # forceShutdownDelay is in milliseconds, 0 meaning "no deadline" (as XO).
            with trio.move_on_after(forceShutdownDelay / 1000 if forceShutdownDelay else float("inf")):  # fmt: skip
                await xapi.call_async("VM.clean_shutdown", ref)
                return
        except XapiError as error:
            if error.code in ("VM_MISSING_PV_DRIVERS", "VM_LACKS_FEATURE_SHUTDOWN"):
                raise invalid_parameters("clean shutdown requires PV drivers") from error
            raise
        await xapi.call_async("VM.hard_shutdown", ref)


@api.method(
    params={
        "id": {"type": "string"},
        "force": {"type": "boolean", "optional": True},
        "bypassBlockedOperation": {"type": "boolean", "optional": True},
    },
    resolve=_OPERATE_VM,
    description="restart a VM (cleanly unless forced)",
)
async def restart(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    force: bool = False,
    bypassBlockedOperation: bool | None = None,
) -> None:
    xapi = xapi_of(ctx, vm)
    bypass = force if bypassBlockedOperation is None else bypassBlockedOperation
    async with unblocked(xapi, vm, RESTART_OPERATIONS, enabled=bypass):
        await xapi.call_async("VM.hard_reboot" if force else "VM.clean_reboot", vm["_xapiRef"])


@api.method(params=_ID, resolve=_OPERATE_VM, description="suspend a VM")
async def suspend(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    await xapi_of(ctx, vm).call_async("VM.suspend", vm["_xapiRef"])


@api.method(params=_ID, resolve=_OPERATE_VM, description="resume a suspended VM")
async def resume(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    # As XO: start_paused false, force true.
    await xapi_of(ctx, vm).call_async("VM.resume", vm["_xapiRef"], False, True)


@api.method(params=_ID, resolve=_OPERATE_VM, description="pause a running VM")
async def pause(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    await xapi_of(ctx, vm).call_async("VM.pause", vm["_xapiRef"])


@api.method(
    params=_ID,
    resolve=_OPERATE_VM,
    description="unpause a paused VM (our addition: XO's clients call vm.start, which does it too)",
)
async def unpause(ctx: CallContext, *, vm: dict[str, Any]) -> None:
    await xapi_of(ctx, vm).call_async("VM.unpause", vm["_xapiRef"])


@api.method(
    params={
        "vm": {"type": "string"},
        "force": {"type": "boolean", "optional": True},
        "targetHost": {"type": "string"},
        "sr": {"type": "string", "optional": True},
        "mapVdisSrs": {"type": "object", "optional": True},
        "mapVifsNetworks": {"type": "object", "optional": True},
        "migrationNetwork": {"type": "string", "optional": True},
        "bypassAssert": {
            "description": "Bypass the verification asserting whether a VM can be migrated to "
            "the specified destination",
            "optional": True,
            "type": "boolean",
        },
    },
    resolve={
        "vm": ("vm", "VM", "administrate"),
        "host": ("targetHost", "host", "administrate"),
        "migrationNetwork": ("migrationNetwork", "network", "administrate"),
    },
    description="migrate a VM to another host of its pool",
)
async def migrate(
    ctx: CallContext,
    *,
    vm: dict[str, Any],
    host: dict[str, Any],
    force: bool = False,
    sr: str | None = None,
    mapVdisSrs: dict[str, str] | None = None,
    mapVifsNetworks: dict[str, str] | None = None,
    migrationNetwork: dict[str, Any] | None = None,
    bypassAssert: bool = False,
) -> None:
    if vm["$pool"] != host["$pool"] or sr is not None or mapVdisSrs or mapVifsNetworks:
        raise not_implemented()  # storage motion (VM.migrate_send) is not supported yet
    xapi = xapi_of(ctx, vm)
    options = {"force": "true" if force else "false"}
    network = migrationNetwork or migration_network(ctx, vm["$pool"])
    if network is not None:
        options["network"] = network["_xapiRef"]
    await xapi.call_async("VM.pool_migrate", vm["_xapiRef"], host["_xapiRef"], options)
