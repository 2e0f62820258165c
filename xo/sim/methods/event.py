"""``event.*`` (reference xapi.md §2)."""

from __future__ import annotations

from xo.sim.methods.registry import Call, handler


@handler("event.from")
async def event_from(call: Call, classes: list[str], token: str, poll_seconds: float) -> dict:
    return await call.pool.events.from_(call.session, classes, token, poll_seconds)


@handler("event.inject")
async def inject(call: Call, cls: str, ref: str) -> str:
    return call.pool.events.inject(cls, ref)


@handler("event.get_current_id")
async def get_current_id(call: Call) -> int:
    return call.pool.events.get_current_id()


@handler("event.register")
async def register(call: Call, classes: list[str]) -> None:
    call.pool.events.register(call.session, classes)


@handler("event.unregister")
async def unregister(call: Call, classes: list[str]) -> None:
    call.pool.events.unregister(call.session, classes)


@handler("event.next")
async def next_events(call: Call) -> list[dict]:
    return await call.pool.events.next(call.session)
