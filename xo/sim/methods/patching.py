"""``pool_update.*``, ``pool_patch.*`` and ``host.call_plugin`` (reference xapi.md §8)."""

from __future__ import annotations

from xo.sim.errors import XapiFailure
from xo.sim.methods.registry import Call, handler
from xo.sim.updater import PLUGIN


@handler("pool_update.introduce")
async def introduce(call: Call, vdi: str) -> str:
    return call.pool.patches.introduce(vdi)


@handler("pool_update.precheck")
async def precheck(call: Call, update: str, host: str) -> str:
    call.db.get("host", host)
    return call.pool.patches.precheck(update, host)


@handler("pool_update.apply")
async def apply(call: Call, update: str, host: str) -> None:
    call.db.get("host", host)
    call.pool.patches.precheck(update, host)
    await call.work(call.pool.timing.delay("patch_apply"))
    call.pool.patches.apply(update, host)


@handler("pool_update.pool_apply")
async def pool_apply(call: Call, update: str) -> None:
    hosts = call.pool.patches.hosts_to_apply(update, call.pool.master_ref)
    for host in hosts:
        call.pool.patches.precheck(update, host)
    for n, host in enumerate(hosts):
        await call.work(call.pool.timing.delay("patch_apply"), n / len(hosts), (n + 1) / len(hosts))
        call.pool.patches.apply(update, host)


@handler("pool_update.pool_clean")
async def pool_clean(call: Call, update: str) -> None:
    call.pool.patches.pool_clean(update)


@handler("pool_update.destroy")
async def destroy(call: Call, update: str) -> None:
    call.pool.patches.destroy(update)


def _legacy(error: XapiFailure, patch: str) -> XapiFailure:
    if error.code == "UPDATE_ALREADY_APPLIED":
        return XapiFailure("PATCH_ALREADY_APPLIED", patch)
    if error.code.startswith("UPDATE_PRECHECK_FAILED_"):
        return XapiFailure(error.code.replace("UPDATE_", "PATCH_", 1), patch, *error.params[1:])
    return error


@handler("pool_patch.precheck")
async def patch_precheck(call: Call, patch: str, host: str) -> str:
    call.db.get("host", host)
    try:
        call.pool.patches.precheck(call.pool.patches.update_of(patch), host)
    except XapiFailure as error:
        raise _legacy(error, patch) from None
    return ""


@handler("pool_patch.apply")
async def patch_apply(call: Call, patch: str, host: str) -> str:
    call.db.get("host", host)
    update = call.pool.patches.update_of(patch)
    try:
        call.pool.patches.precheck(update, host)
        await call.work(call.pool.timing.delay("patch_apply"))
        call.pool.patches.apply(update, host)
    except XapiFailure as error:
        raise _legacy(error, patch) from None
    return ""


@handler("pool_patch.pool_apply")
async def patch_pool_apply(call: Call, patch: str) -> None:
    update = call.pool.patches.update_of(patch)
    try:
        await pool_apply(call, update)
    except XapiFailure as error:
        raise _legacy(error, patch) from None


@handler("pool_patch.clean", "pool_patch.pool_clean")
async def patch_clean(call: Call, patch: str) -> None:
    call.pool.patches.pool_clean(call.pool.patches.update_of(patch))


@handler("pool_patch.clean_on_host")
async def patch_clean_on_host(call: Call, patch: str, host: str) -> None:
    call.db.get("host", host)
    call.pool.patches.update_of(patch)


@handler("pool_patch.destroy")
async def patch_destroy(call: Call, patch: str) -> None:
    call.pool.patches.destroy(call.pool.patches.update_of(patch))


@handler("host.call_plugin")
async def call_plugin(call: Call, host: str, plugin: str, fn: str, args: dict[str, str]) -> str:
    call.db.get("host", host)
    if plugin != PLUGIN or call.pool.flavour != "xcp-ng":
        raise XapiFailure("XENAPI_MISSING_PLUGIN", plugin)
    return await call.pool.updater.call(host, fn, args)
