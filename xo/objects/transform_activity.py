"""message and task records -> XO objects (xo-server's transforms)."""

from __future__ import annotations

from typing import Any

from .context import TransformContext, as_list


def message(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    return {
        "body": rec.body,
        "name": rec.name,
        "time": rec.timestamp,
        "$object": rec.obj_uuid,  # already a uuid: XO's one "special" link
    }


def task(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "allowedOperations": as_list(rec.allowed_operations),
        "created": rec.created,
        "current_operations": rec.current_operations,
        "finished": rec.finished,
        "name_description": rec.name_description,
        "name_label": rec.name_label,
        "progress": rec.progress,
        "result": rec.result,
        "status": rec.status,
        "xapiRef": ref,
    }
    applies_to = rec.other_config.get("applies_to")
    if applies_to:
        # XO resolves a ref or a uuid; a uuid is already the link
        target = ctx.uuid(applies_to) if applies_to.startswith("OpaqueRef:") else applies_to
        if target is not None:
            obj["applies_to"] = target
    ctx.put_link(obj, "$host", rec.resident_on)
    return obj
