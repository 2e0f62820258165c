"""Reaching the XAPI of the pool an XO object lives in (for method bodies)."""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import forbidden_operation, server_unreachable


def xapi_of(ctx: CallContext, obj: dict[str, Any], *, write: bool = True) -> Any:
    """The XapiClient of ``obj``'s pool; refuses writes on a read-only server entry."""
    pools = ctx.services.pools
    pool_id = obj.get("$pool")
    if pools is None or pool_id is None:
        raise server_unreachable(pool_id)
    if write and pools.read_only(pool_id):
        raise forbidden_operation(ctx.method.name, "the server of this pool is read-only")
    return pools.xapi_for_pool(pool_id)
