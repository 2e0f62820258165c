"""``pool.set``: a pool's properties (XO's ``api/pool.mjs``).

XO-specific settings live in the pool's ``other_config``: ``auto_poweron``,
``xo:migrationNetwork`` and ``xo:backupNetwork`` (network ids; null removes them).
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of

api = Namespace("pool")

NULL_REF = "OpaqueRef:NULL"
MIGRATION_NETWORK_KEY = "xo:migrationNetwork"


def migration_network(ctx: CallContext, pool_id: str) -> dict[str, Any] | None:
    """The network ``pool.set`` chose for the migrations of ``pool_id`` (None: XAPI's default,
    the management network), read by ``vm.migrate`` and the evacuations of ``host.*``."""
    objects = ctx.services.objects
    if objects is None:
        return None
    pool = objects.get(pool_id) or {}
    network_id = (pool.get("otherConfig") or {}).get(MIGRATION_NETWORK_KEY)
    return objects.get(network_id) if network_id else None


async def _set_entry(xapi: Any, ref: str, key: str, value: str | None) -> None:
    await xapi.call("pool.remove_from_other_config", ref, key)
    if value is not None:
        await xapi.call("pool.add_to_other_config", ref, key, value)


@api.method(
    params={
        "id": {"type": "string"},
        "auto_poweron": {"type": "boolean", "optional": True},
        "name_label": {"type": "string", "optional": True},
        "name_description": {"type": "string", "minLength": 0, "optional": True},
        "backupNetwork": {"type": ["string", "null"], "optional": True},
        "migrationCompression": {"type": "boolean", "optional": True},
        "migrationNetwork": {"type": ["string", "null"], "optional": True},
        "suspendSr": {"type": ["string", "null"], "optional": True},
        "crashDumpSr": {"type": ["string", "null"], "optional": True},
    },
    resolve={
        "pool": ("id", "pool", "administrate"),
        "suspendSr": ("suspendSr", "SR", "administrate"),
        "crashDumpSr": ("crashDumpSr", "SR", "administrate"),
    },
    description="changes the properties of a pool",
)
async def set_(ctx: CallContext, *, pool: dict[str, Any], **changes: Any) -> None:
    xapi = xapi_of(ctx, pool)
    ref = pool["_xapiRef"]
    if "name_label" in changes:
        await xapi.call("pool.set_name_label", ref, changes["name_label"])
    if "name_description" in changes:
        await xapi.call("pool.set_name_description", ref, changes["name_description"])
    if "auto_poweron" in changes:
        await _set_entry(xapi, ref, "auto_poweron", str(changes["auto_poweron"]).lower())
    if "migrationCompression" in changes:
        await xapi.call("pool.set_migration_compression", ref, changes["migrationCompression"])
    for param, key in (("migrationNetwork", MIGRATION_NETWORK_KEY), ("backupNetwork", "xo:backupNetwork")):  # fmt: skip
        if param in changes:
            await _set_entry(xapi, ref, key, changes[param])
    for param, method in (("suspendSr", "pool.set_suspend_image_SR"), ("crashDumpSr", "pool.set_crash_dump_SR")):  # fmt: skip
        if param in changes:
            sr = changes[param]
            await xapi.call(method, ref, NULL_REF if sr is None else sr["_xapiRef"])
