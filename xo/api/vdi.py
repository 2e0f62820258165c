"""``vdi.set`` / ``vdi.delete``: a disk's name, size and CBT, and its removal (XO's
``api/vdi.mjs``). Disks only grow: a smaller ``size`` is refused (code 10), as XO does.
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import invalid_parameters
from xo.api.registry import Namespace
from xo.api.sizes import parse_size
from xo.api.xapi_access import xapi_of

api = Namespace("vdi")

_ANY_VDI = ["VDI", "VDI-snapshot"]


@api.method(
    params={"id": {"type": "string"}},
    resolve={"vdi": ("id", _ANY_VDI, "administrate")},
    description="delete a disk",
)
async def delete_(ctx: CallContext, *, vdi: dict[str, Any]) -> None:
    await xapi_of(ctx, vdi).call_async("VDI.destroy", vdi["_xapiRef"])


@api.method(
    params={
        "id": {"type": "string"},
        "name_label": {"type": "string", "optional": True},
        "name_description": {"type": "string", "minLength": 0, "optional": True},
        "size": {"type": ["integer", "string"], "optional": True},
        "cbt": {"type": "boolean", "optional": True},
    },
    resolve={"vdi": ("id", _ANY_VDI, "administrate")},
    description="changes the properties of a disk (size: grow only)",
)
async def set_(
    ctx: CallContext,
    *,
    vdi: dict[str, Any],
    name_label: str | None = None,
    name_description: str | None = None,
    size: int | str | None = None,
    cbt: bool | None = None,
) -> None:
    xapi = xapi_of(ctx, vdi)
    ref = vdi["_xapiRef"]
    if size is not None:
        new_size = parse_size(size)
        current = int(vdi.get("size") or 0)
        if new_size < current:
            raise invalid_parameters(
                f"cannot set new size ({new_size}) below the current size ({current})"
            )
        await xapi.call_async("VDI.resize", ref, new_size)
    if cbt is not None:
        await xapi.call_async("VDI.enable_cbt" if cbt else "VDI.disable_cbt", ref)
    if name_label is not None:
        await xapi.call("VDI.set_name_label", ref, name_label)
    if name_description is not None:
        await xapi.call("VDI.set_name_description", ref, name_description)
