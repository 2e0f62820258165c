"""``xo.*``: the object cache as clients load it."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from xo.api.context import CallContext
from xo.api.errors import invalid_parameters
from xo.api.oneshot import HttpRequest, HttpResponse
from xo.api.registry import Namespace
from xo.objects.filter import compile_filter

api = Namespace("xo")

Predicate = Callable[[dict[str, Any]], bool]
# What compile_filter gives for "no filter" (None or {}): recognised to skip calling it per object.
EVERYTHING = compile_filter(None)

# Lines are gathered into chunks of about this size before being written: fewer, larger socket
# writes, while memory stays bounded whatever the number of objects.
NDJSON_CHUNK_BYTES = 64 * 1024


def _filter_error(message: str) -> Exception:
    return invalid_parameters(
        errors=[
            {
                "instancePath": "/filter",
                "schemaPath": "#/properties/filter",
                "keyword": "filter",
                "params": {},
                "message": message,
            }
        ]
    )


async def _ndjson(store: Any, objects: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    """One JSON line per object, gathered into chunks of about NDJSON_CHUNK_BYTES.

    An object the store still holds (same identity: objects are never mutated) is taken from the
    store's cached serialization (``json_bytes``, shared with notifications); others are encoded.
    """
    import orjson

    cached = getattr(store, "json_bytes", None)
    current = getattr(store, "get", None)
    chunk: list[bytes] = []
    size = 0
    for obj in objects:
        if cached is not None and current is not None and current(obj["id"]) is obj:
            data = cached(obj["id"])
        else:
            data = orjson.dumps(obj)
        chunk.append(data)
        size += len(data) + 1
        if size >= NDJSON_CHUNK_BYTES:
            chunk.append(b"")
            yield b"\n".join(chunk)
            chunk, size = [], 0
    if chunk:
        chunk.append(b"")
        yield b"\n".join(chunk)


def _select(objects: Any, predicate: Predicate, cap: int | None) -> dict[str, dict[str, Any]]:
    """id -> object of the matching objects, in the store's order, at most ``cap``."""
    if objects is None:
        return {}
    everything = predicate is EVERYTHING
    select = getattr(objects, "matching", None)
    if select is not None:  # the ObjectStore: a C-level dict copy when nothing is filtered
        return select(None if everything else predicate, cap)
    matching: dict[str, dict[str, Any]] = {}
    for obj in objects.values():
        if cap is not None and len(matching) >= cap:
            break
        if everything or predicate(obj):
            matching[obj["id"]] = obj
    return matching


@api.method(
    params={
        "filter": {"type": ["object", "string"], "optional": True},
        "limit": {"type": "number", "optional": True},
        "ndjson": {"type": "boolean", "optional": True},
    },
    description="Returns all XO objects",
)
async def getAllObjects(
    ctx: CallContext,
    *,
    filter: dict[str, Any] | str | None = None,
    limit: float | None = None,
    ndjson: bool | None = None,
) -> Any:
    try:
        predicate = compile_filter(filter)
    except ValueError as exc:
        raise _filter_error(str(exc)) from None
    matching: dict[str, dict[str, Any]] = {}
    cap = None if limit is None or not math.isfinite(limit) else int(limit)
    for obj in ctx.visible_objects():  # a non-admin gets what its ACLs let it view
        if cap is not None and len(matching) >= cap:
            break
        if predicate(obj):
            matching[obj["id"]] = obj
    if not ndjson:
        return matching
    # The snapshot is taken now (objects are immutable), so the stream shows the state of the
    # call, consistent with the `all` notifications that follow it.
    snapshot = list(matching.values())

    async def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            200, {"content-type": "application/json"}, _ndjson(ctx.services.objects, snapshot)
        )

    return {"$getFrom": ctx.services.urls.register(handler)}
