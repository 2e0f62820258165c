"""``sr.set``: an SR's name and description (XO's ``api/sr.mjs``)."""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of

api = Namespace("sr")


@api.method(
    params={
        "id": {"type": "string"},
        "name_label": {"type": "string", "optional": True},
        "name_description": {"type": "string", "minLength": 0, "optional": True},
    },
    resolve={"sr": ("id", "SR", "operate")},
    description="changes the properties of an SR",
)
async def set_(
    ctx: CallContext,
    *,
    sr: dict[str, Any],
    name_label: str | None = None,
    name_description: str | None = None,
) -> None:
    xapi = xapi_of(ctx, sr)
    if name_label is not None:
        await xapi.call("SR.set_name_label", sr["_xapiRef"], name_label)
    if name_description is not None:
        await xapi.call("SR.set_name_description", sr["_xapiRef"], name_description)
