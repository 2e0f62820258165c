"""The XO id of an object a method just created on XAPI, once clients can use it.

XO answers ``vm.clone``/``vm.snapshot``/``vm.create``... with the new object's id only after its
cache caught up (``_getOrWaitObject``, ``barrier``), so the client's next call (``vm.start`` on
the clone) resolves it and sees the changes the method made. We do the same with XO's barrier:
write a unique key in the pool's ``other_config``, wait for the ObjectStore to show it (events
arrive in order, so everything before it is applied too), remove it. If events are late, the
uuid comes straight from XAPI (the object follows when events resume).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

import trio

from xo.api.context import CallContext
from xo.xapi.errors import XapiException

log = logging.getLogger(__name__)

# Events normally bring a change within milliseconds; past this the pool is struggling and the
# caller is better served by an answer without the store's confirmation.
WAIT_FOR_EVENTS = 10.0


async def _wait(ctx: CallContext, predicate: Callable[[], bool]) -> bool:
    """Whether ``predicate()`` held on the ObjectStore within WAIT_FOR_EVENTS seconds."""
    objects = ctx.services.objects
    if objects is None or not hasattr(objects, "subscribe"):
        return False
    with trio.move_on_after(WAIT_FOR_EVENTS), objects.subscribe() as subscription:
        while not predicate():
            await subscription.next_batch()
        return True
    return False


async def barrier(ctx: CallContext, xapi: Any, pool_id: str) -> bool:
    """Wait until the ObjectStore has applied every event of the pool up to now."""
    objects = ctx.services.objects
    pool = objects.get(pool_id) if objects is not None else None
    if objects is None or pool is None:
        return False
    key = "xo:barrier:" + secrets.token_hex(8)
    ref = pool["_xapiRef"]
    await xapi.call("pool.add_to_other_config", ref, key, "")
    try:
        return await _wait(
            ctx, lambda: key in ((objects.get(pool_id) or {}).get("otherConfig") or {})
        )
    finally:
        with trio.CancelScope(shield=True):
            try:
                await xapi.call("pool.remove_from_other_config", ref, key)
            except XapiException as error:
                log.warning("could not remove barrier %s: %s", key, error)


async def new_object_id(ctx: CallContext, xapi: Any, cls: str, ref: str, pool_id: str) -> str:
    """The XO id of the object ``ref`` of XAPI class ``cls`` (e.g. "VM") just created in
    ``pool_id``, after the ObjectStore caught up with the pool."""
    objects = ctx.services.objects
    if await barrier(ctx, xapi, pool_id) and objects is not None:
        obj = objects.get_by_ref(ref)
        if obj is not None:
            return str(obj["id"])
    log.warning("%s is not in the object store yet: answering its uuid from XAPI", ref)
    return str(await xapi.call(f"{cls}.get_uuid", ref))
