"""``user.*``: accounts (names, params and permissions are XO's).

XO's rules: only admins create, delete, list users and change their email, password or
permission; a user may change its own ``preferences`` (merged, ``null`` deletes a key) and its
password (``user.changePassword``, which checks the old one); an admin can neither delete itself
nor change its own permission; synchronized users (``authProviders``) keep their email and
password. Stricter than XO: the permission must be ``none``, ``read``, ``write`` or ``admin``.

What ends an authentication ends the connections that use it: deleting a user closes all of
its connections; a new password deletes its tokens and closes the connections signed in with
them. Rights follow at once (:meth:`~xo.api.context.Services.rights_changed`).
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import (
    forbidden_operation,
    invalid_credentials,
    invalid_parameters,
    no_such_object,
    object_already_exists,
    unauthorized,
)
from xo.api.registry import Namespace
from xo.auth.passwords import hash_password, verify_password
from xo.store.interface import Conflict
from xo.store.records import PERMISSIONS, User

api = Namespace("user")


def _check_permission_value(permission: str) -> None:
    # XO stores any string here (a quirk); we refuse what is not a permission level.
    if permission not in PERMISSIONS:
        raise invalid_parameters(
            errors=[
                {
                    "instancePath": "/permission",
                    "schemaPath": "#/properties/permission/enum",
                    "keyword": "enum",
                    "params": {"allowedValues": list(PERMISSIONS)},
                    "message": "must be equal to one of the allowed values",
                }
            ]
        )


async def _get(ctx: CallContext, user_id: str) -> User:
    user = await ctx.store.get_user(user_id)
    if user is None:
        raise no_such_object(user_id, "user")
    return user


@api.method(
    permission="admin",
    params={
        "email": {"type": "string"},
        "password": {"type": "string"},
        "permission": {"type": "string", "optional": True},
    },
    description="creates a new user",
)
async def create(
    ctx: CallContext, *, email: str, password: str, permission: str | None = None
) -> str:
    if permission is not None:
        _check_permission_value(permission)
    try:
        user = await ctx.store.create_user(
            email, await hash_password(password), permission or "none"
        )
    except Conflict:
        existing = await ctx.store.get_user_by_email(email)
        raise object_already_exists(existing.id if existing else None, "user") from None
    await ctx.services.rights_changed()
    return user.id


@api.method(
    permission="admin", params={"id": {"type": "string"}}, description="deletes an existing user"
)
async def delete_(ctx: CallContext, *, id: str) -> None:
    if ctx.user is not None and ctx.user.id == id:
        raise invalid_parameters("a user cannot delete itself")
    if not await ctx.store.delete_user(id):
        raise no_such_object(id, "user")
    await ctx.services.rights_changed()
    ctx.services.sessions.revoke_user(id)


@api.method(permission="admin", params={}, description="returns all the existing users")
async def getAll(ctx: CallContext) -> list[dict[str, Any]]:
    return [user.public() for user in await ctx.store.list_users()]


@api.method(
    params={
        "id": {"type": "string"},
        "email": {"type": "string", "optional": True},
        "password": {"type": "string", "optional": True},
        "permission": {"type": "string", "optional": True},
        "preferences": {"type": "object", "optional": True},
    },
    description="changes the properties of an existing user",
)
async def set_(
    ctx: CallContext,
    *,
    id: str,
    email: str | None = None,
    password: str | None = None,
    permission: str | None = None,
    preferences: dict[str, Any] | None = None,
) -> None:
    caller = ctx.require_user()
    is_self = caller.id == id
    if not caller.is_admin:
        if not is_self:
            raise unauthorized("admin")
        if email is not None or password is not None or permission is not None:
            raise invalid_parameters("this properties can only changed by an administrator")
    user = await _get(ctx, id)
    if user.auth_providers and (email is not None or password is not None):
        raise forbidden_operation("set", "synchronized users cannot change email or password")
    fields: dict[str, Any] = {}
    if permission is not None:
        _check_permission_value(permission)
        if is_self and permission != user.permission:
            raise invalid_parameters("a user cannot change its own permission")
        fields["permission"] = permission
    if email is not None:
        fields["email"] = email
    if preferences is not None:
        merged = dict(user.preferences)
        for key, value in preferences.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        fields["preferences"] = merged
    try:
        await ctx.store.update_user(id, **fields)
    except Conflict:
        raise object_already_exists(None, "user") from None
    if password is not None:
        ctx.services.sessions.revoke_tokens(await ctx.services.auth.change_password(id, password))
    if "permission" in fields:
        await ctx.services.rights_changed()


@api.method(
    params={"oldPassword": {"type": "string"}, "newPassword": {"type": "string"}},
    description="change password after checking old password (user function)",
)
async def changePassword(ctx: CallContext, *, oldPassword: str, newPassword: str) -> None:
    user = ctx.require_user()
    if user.auth_providers:
        raise forbidden_operation(
            "change password", "synchronized users cannot change their password"
        )
    if not await verify_password(user.password_hash, oldPassword):
        raise invalid_credentials()
    revoked = await ctx.services.auth.change_password(user.id, newPassword)
    ctx.services.sessions.revoke_tokens(revoked)


@api.method(params={}, description="returns authentication tokens of the current user")
async def getAuthenticationTokens(ctx: CallContext) -> list[dict[str, Any]]:
    user = ctx.require_user()
    now = ctx.services.auth.now_ms()
    return [t.public() for t in await ctx.store.list_tokens(user.id) if t.expiration > now]
