"""``group.*``: groups of users, the subjects of shared ACL entries (all admin, as in XO).

Groups synchronized from an external provider (``provider`` set) keep their members: changing
them is ``forbidden operation`` (5), as XO does. ``userIds`` must be an array of user ids
(XO declares it without a schema); an unknown id is ``no such user`` (1).
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import forbidden_operation, no_such_object
from xo.api.registry import Namespace
from xo.store.interface import MissingReference
from xo.store.records import Group

api = Namespace("group")


async def _get(ctx: CallContext, group_id: str) -> Group:
    group = await ctx.store.get_group(group_id)
    if group is None:
        raise no_such_object(group_id, "group")
    return group


async def _check_users(ctx: CallContext, user_ids: list[str]) -> None:
    for user_id in user_ids:
        if await ctx.store.get_user(user_id) is None:
            raise no_such_object(user_id, "user")


def _check_local(group: Group, operation: str) -> None:
    if group.provider is not None:
        raise forbidden_operation(operation, "synchronized groups cannot be changed")


@api.method(
    permission="admin", params={"name": {"type": "string"}}, description="creates a new group"
)
async def create(ctx: CallContext, *, name: str) -> str:
    return (await ctx.store.create_group(name)).id


@api.method(
    permission="admin", params={"id": {"type": "string"}}, description="deletes an existing group"
)
async def delete_(ctx: CallContext, *, id: str) -> None:
    if not await ctx.store.delete_group(id):
        raise no_such_object(id, "group")
    await ctx.services.rights_changed()


@api.method(permission="admin", params={}, description="returns all the existing group")
async def getAll(ctx: CallContext) -> list[dict[str, Any]]:
    return [group.public() for group in await ctx.store.list_groups()]


@api.method(
    permission="admin",
    params={"id": {"type": "string"}, "name": {"type": "string", "optional": True}},
    description="changes the properties of an existing group",
)
async def set_(ctx: CallContext, *, id: str, name: str | None = None) -> None:
    group = await _get(ctx, id)
    if name is not None:
        _check_local(group, "set")
        await ctx.store.update_group(id, name=name)


@api.method(
    permission="admin",
    params={"id": {"type": "string"}, "userIds": {"type": "array", "items": {"type": "string"}}},
    description="sets the users belonging to a group",
)
async def setUsers(ctx: CallContext, *, id: str, userIds: list[str]) -> None:
    _check_local(await _get(ctx, id), "setUsers")
    await _check_users(ctx, userIds)
    try:
        await ctx.store.set_group_users(id, userIds)
    except MissingReference:  # deleted meanwhile
        raise no_such_object(id, "group") from None
    await ctx.services.rights_changed()


@api.method(
    permission="admin",
    params={"id": {"type": "string"}, "userId": {"type": "string"}},
    description="adds a user to a group",
)
async def addUser(ctx: CallContext, *, id: str, userId: str) -> None:
    _check_local(await _get(ctx, id), "addUser")
    await _check_users(ctx, [userId])
    try:
        await ctx.store.add_group_user(id, userId)
    except MissingReference:
        raise no_such_object(id, "group") from None
    await ctx.services.rights_changed()


@api.method(
    permission="admin",
    params={"id": {"type": "string"}, "userId": {"type": "string"}},
    description="removes a user from a group",
)
async def removeUser(ctx: CallContext, *, id: str, userId: str) -> None:
    _check_local(await _get(ctx, id), "removeUser")
    await ctx.store.remove_group_user(id, userId)
    await ctx.services.rights_changed()
