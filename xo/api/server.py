"""``server.*``: the XAPI pools xo-server connects to (entries in the store, connections in the
PoolManager). Passwords are stored (XAPI needs them) and never returned.
"""

from __future__ import annotations

import uuid
from typing import Any

from xo.api.context import CallContext
from xo.api.errors import incorrect_state, no_such_object, object_already_exists
from xo.api.registry import Namespace
from xo.pools.entry import ServerEntry
from xo.store.interface import Conflict
from xo.store.records import Server

api = Namespace("server")

# Changing these needs a new XAPI connection, so XO requires the server to be disconnected.
_CONNECTION_FIELDS = ("host", "username", "password", "allow_unauthorized", "http_proxy")


def entry_of(server: Server) -> ServerEntry:
    return ServerEntry(
        id=server.id,
        host=server.host,
        username=server.username,
        password=server.password,
        label=server.label,
        allow_unauthorized=server.allow_unauthorized,
        read_only=server.read_only,
        enabled=server.enabled,
        http_proxy=server.http_proxy,
    )


def _status(ctx: CallContext, server_id: str) -> Any:
    pools = ctx.services.pools
    return None if pools is None else pools.status(server_id)


def _state(ctx: CallContext, server_id: str) -> str:
    status = _status(ctx, server_id)
    return "disconnected" if status is None else status.status


async def _get(ctx: CallContext, server_id: str) -> Server:
    server = await ctx.store.get_server(server_id)
    if server is None:
        raise no_such_object(server_id, "server")
    return server


def describe(server: Server, status: Any) -> dict[str, Any]:
    """One ``server.getAll`` item (never the password)."""
    item: dict[str, Any] = {
        "id": server.id,
        "host": server.host,
        "label": server.label,
        "username": server.username,
        "allowUnauthorized": server.allow_unauthorized,
        "enabled": server.enabled,
        "readOnly": server.read_only,
    }
    if server.http_proxy is not None:
        item["httpProxy"] = server.http_proxy
    item["status"] = "disconnected" if status is None else status.status
    if status is not None and status.error is not None:
        item["error"] = status.error
    if status is not None and status.status == "connected":
        item["poolId"] = status.pool_id
        item["master"] = status.master_id
        item["poolNameLabel"] = status.pool_name_label
        item["poolNameDescription"] = status.pool_name_description
        item["poolMembersAddresses"] = list(status.pool_members_addresses)
        if item["label"] is None:
            item["label"] = status.pool_name_label
    return item


@api.method(
    permission="admin",
    params={
        "label": {"optional": True, "type": "string"},
        "host": {"type": "string"},
        "username": {"type": "string"},
        "password": {"type": "string"},
        "autoConnect": {"optional": True, "type": "boolean"},
        "allowUnauthorized": {"optional": True, "type": "boolean"},
        "httpProxy": {"optional": True, "type": "string"},
    },
    description="register a new Xen server",
)
async def add(
    ctx: CallContext,
    *,
    host: str,
    username: str,
    password: str,
    label: str | None = None,
    autoConnect: bool = True,
    allowUnauthorized: bool = False,
    httpProxy: str | None = None,
) -> str:
    server = Server(
        id=str(uuid.uuid4()),
        host=host,
        username=username,
        password=password,
        label=label,
        allow_unauthorized=allowUnauthorized,
        enabled=autoConnect,
        http_proxy=httpProxy,
    )
    try:
        await ctx.store.create_server(server)
    except Conflict:
        existing = next((s for s in await ctx.store.list_servers() if s.host == host), None)
        raise object_already_exists(existing.id if existing else None, "server") from None
    if autoConnect and ctx.services.pools is not None:
        # As XO: the connection starts in the background; its errors show in server.getAll.
        ctx.services.pools.connect(entry_of(server))
    return server.id


@api.method(
    permission="admin", params={"id": {"type": "string"}}, description="remove a Xen server"
)
async def remove(ctx: CallContext, *, id: str) -> None:
    await _get(ctx, id)
    if ctx.services.pools is not None:
        await ctx.services.pools.disconnect(id)
    await ctx.store.delete_server(id)


@api.method(
    permission="admin",
    params={
        "id": {"type": "string"},
        "label": {"type": ["null", "string"], "optional": True},
        "host": {"type": "string", "optional": True},
        "username": {"type": "string", "optional": True},
        "password": {"type": "string", "optional": True},
        "allowUnauthorized": {"optional": True, "type": "boolean"},
        "readOnly": {"optional": True, "type": "boolean"},
        "httpProxy": {"optional": True, "type": ["string", "null"]},
    },
    description="changes the properties of a Xen server",
)
async def set_(ctx: CallContext, *, id: str, **changes: Any) -> None:
    server = await _get(ctx, id)
    names = {
        "label": "label",
        "host": "host",
        "username": "username",
        "password": "password",
        "allowUnauthorized": "allow_unauthorized",
        "readOnly": "read_only",
        "httpProxy": "http_proxy",
    }
    fields = {names[key]: value for key, value in changes.items()}
    state = _state(ctx, id)
    if state != "disconnected" and any(name in fields for name in _CONNECTION_FIELDS):
        raise incorrect_state(actual=state, expected="disconnected", object=id, property="status")
    try:
        updated = await ctx.store.update_server(id, **fields)
    except Conflict:
        raise object_already_exists(None, "server") from None
    pools = ctx.services.pools
    if updated is not None and pools is not None and state != "disconnected":
        if updated.read_only != server.read_only:
            pools.connect(entry_of(updated))  # the changed entry replaces the connection


@api.method(
    permission="admin", params={"id": {"type": "string"}}, description="connect a Xen server"
)
async def enable(ctx: CallContext, *, id: str) -> None:
    server = await _get(ctx, id)
    state = _state(ctx, id)
    if state != "disconnected":
        raise incorrect_state(actual=state, expected="disconnected", object=id, property="status")
    server = await ctx.store.update_server(id, enabled=True) or server
    if ctx.services.pools is not None:
        await ctx.services.pools.connect_and_wait(entry_of(server))


@api.method(
    permission="admin", params={"id": {"type": "string"}}, description="disconnect a Xen server"
)
async def disable(ctx: CallContext, *, id: str) -> None:
    server = await _get(ctx, id)
    state = _state(ctx, id)
    if not server.enabled and state == "disconnected":
        raise incorrect_state(actual=state, expected="connected", object=id, property="status")
    await ctx.store.update_server(id, enabled=False)
    if ctx.services.pools is not None:
        await ctx.services.pools.disconnect(id)


api.alias("connect", "enable")
api.alias("disconnect", "disable")


@api.method(permission="admin", params={}, description="returns all the registered Xen server")
async def getAll(ctx: CallContext) -> list[dict[str, Any]]:
    return [describe(server, _status(ctx, server.id)) for server in await ctx.store.list_servers()]
