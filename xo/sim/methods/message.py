"""``message.*``: messages live in their own event stream (second half of event tokens)."""

from __future__ import annotations

from xo.sim.methods.registry import Call, handler
from xo.sim.tasks import now


@handler("message.create")
async def create(call: Call, name: str, priority: int, cls: str, obj_uuid: str, body: str) -> str:
    return call.db.create(
        "message",
        {
            "name": name,
            "priority": priority,
            "cls": cls,
            "obj_uuid": obj_uuid,
            "timestamp": now(),
            "body": body,
        },
    )


@handler("message.destroy_many")
async def destroy_many(call: Call, messages: list[str]) -> None:
    for ref in messages:
        call.db.get("message", ref)
    for ref in messages:
        call.db.destroy("message", ref)


@handler("message.get_since")
async def get_since(call: Call, since: str) -> dict[str, dict]:
    return {ref: rec for ref, rec in call.db.all("message").items() if rec["timestamp"] > since}


@handler("message.get")
async def get(call: Call, cls: str, obj_uuid: str, since: str) -> dict[str, dict]:
    return {
        ref: rec
        for ref, rec in call.db.all("message").items()
        if rec["cls"] == cls and rec["obj_uuid"] == obj_uuid and rec["timestamp"] > since
    }
