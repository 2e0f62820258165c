"""The XO id of an object a method just created on XAPI, once clients can use it.

XO answers ``vm.clone``/``vm.snapshot``/``vm.create``... with the new object's id only after the
object is in its cache (``_getOrWaitObject``), so the client's next call (``vm.start`` on the
clone) resolves it. We do the same: wait for the pool's event stream to bring the object into
the ObjectStore, and fall back on asking XAPI for the uuid if events are late.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from xo.api.context import CallContext

log = logging.getLogger(__name__)

# Events normally bring a new object within milliseconds; past this the pool is struggling and
# the uuid straight from XAPI is the better answer (the object follows when events resume).
WAIT_FOR_OBJECT = 10.0


async def wait_for_ref(ctx: CallContext, ref: str) -> dict[str, Any] | None:
    """The XO object of XAPI ``ref`` once it is in the ObjectStore (None if it does not come
    within WAIT_FOR_OBJECT seconds)."""
    objects = ctx.services.objects
    if objects is None:
        return None
    found = objects.get_by_ref(ref)
    if found is not None or not hasattr(objects, "subscribe"):
        return found
    with trio.move_on_after(WAIT_FOR_OBJECT), objects.subscribe() as subscription:
        while True:
            found = objects.get_by_ref(ref)
            if found is not None:
                return found
            await subscription.next_batch()
    log.warning("%s did not reach the object store within %.0f s", ref, WAIT_FOR_OBJECT)
    return None


async def new_object_id(ctx: CallContext, xapi: Any, cls: str, ref: str) -> str:
    """The XO id of the object ``ref`` of XAPI class ``cls`` (e.g. "VM") just created."""
    obj = await wait_for_ref(ctx, ref)
    if obj is not None:
        return str(obj["id"])
    return str(await xapi.call(f"{cls}.get_uuid", ref))
