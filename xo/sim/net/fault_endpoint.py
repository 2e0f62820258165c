"""`POST /sim/faults` (or `/sim/fault`): fault injection over HTTP, on every simulated host.

Not part of XAPI: tests and demos drive failures from outside the process with it. The body is
one JSON object `{"action": <name>, ...arguments}` (see `xo.sim.serve.RunningSim.apply_fault` for
the actions); the reply is JSON: `{"ok": true, ...}` or HTTP 400 `{"ok": false, "error": ...}`.
`GET /sim/faults` returns the current fault state of every pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from xo.sim.net.http import Request

# Fault commands are a few hundred bytes; anything bigger is not one.
FAULT_BODY_LIMIT = 64 * 1024


class FaultError(ValueError):
    """A fault command that cannot be applied (unknown action, bad host...)."""


Deferred = list[Callable[[], Awaitable[None]]]


class FaultEndpoint:
    """`apply(command, deferred)` applies a command; actions it appends to `deferred` (stopping
    a host, maybe this one) run after the answer was written."""

    def __init__(self, apply: Callable[[dict, Deferred], Awaitable[dict]]) -> None:
        self._apply = apply

    async def handle(self, request: Request) -> None:
        body = await request.read_body(FAULT_BODY_LIMIT)
        if request.method == "GET":
            command: object = {"action": "status"}
        else:
            try:
                command = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError as exc:
                await _reply(request, 400, {"ok": False, "error": f"invalid JSON: {exc}"})
                return
        if not isinstance(command, dict):
            await _reply(request, 400, {"ok": False, "error": "expected a JSON object"})
            return
        deferred: Deferred = []
        try:
            result = await self._apply(command, deferred)
        except FaultError as exc:
            await _reply(request, 400, {"ok": False, "error": str(exc)})
            return
        await _reply(request, 200, {"ok": True, **result})
        for action in deferred:
            await action()  # may stop this very host: this connection then closes


async def _reply(request: Request, status: int, payload: dict) -> None:
    await request.respond(status, [("Content-Type", "application/json")], orjson.dumps(payload))
