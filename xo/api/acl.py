"""``acl.*`` and ``role.getAll``: who may do what on which object (XO's ACLs v1).

An entry ``{subject, object, action}`` gives a user or a group (``subject``) a role
(``action``: ``viewer``, ``operator`` or ``admin``) on one XO object and, by inheritance, on
what it contains (:mod:`xo.auth.acl`). Rights change live: every connection of an affected user
sees objects enter or leave its view at once.

Stricter than XO, on purpose: ``subject`` must be an existing user or group and ``action`` a
role (XO stores any string and silently grants nothing); the object is not required to exist
(entries outlive an object that is gone for a while, e.g. a pool being reconnected, as XO's).
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import invalid_parameters, no_such_object
from xo.api.registry import Namespace
from xo.auth.acl import ROLE_NAMES, ROLES

acl_api = Namespace("acl")
role_api = Namespace("role")

_ENTRY = {
    "subject": {"type": "string"},
    "object": {"type": "string"},
    "action": {"type": "string"},
}


def _check_role(action: str) -> None:
    if action not in ROLES:
        raise invalid_parameters(
            errors=[
                {
                    "instancePath": "/action",
                    "schemaPath": "#/properties/action/enum",
                    "keyword": "enum",
                    "params": {"allowedValues": list(ROLES)},
                    "message": "must be equal to one of the allowed values",
                }
            ]
        )


async def _check_subject(ctx: CallContext, subject: str) -> None:
    if await ctx.store.get_user(subject) is None and await ctx.store.get_group(subject) is None:
        raise no_such_object(subject, "subject")


@acl_api.method(permission="admin", params={}, description="get existing ACLs")
async def get(ctx: CallContext) -> list[dict[str, Any]]:
    return [acl.public() for acl in await ctx.store.list_acls()]


@acl_api.method(params={}, description="get (explicit) permissions by object for the current user")
async def getCurrentPermissions(ctx: CallContext) -> dict[str, dict[str, int]]:
    user = ctx.require_user()
    return ctx.services.rights.current_permissions(user.id)


@acl_api.method(permission="admin", params=_ENTRY, description="add a new ACL entry")
async def add(ctx: CallContext, *, subject: str, object: str, action: str) -> None:
    _check_role(action)
    await _check_subject(ctx, subject)
    await ctx.store.add_acl(subject, object, action)
    await ctx.services.rights_changed()


@acl_api.method(permission="admin", params=_ENTRY, description="remove an existing ACL entry")
async def remove(ctx: CallContext, *, subject: str, object: str, action: str) -> None:
    await ctx.store.remove_acl(subject, object, action)
    await ctx.services.rights_changed()


@role_api.method(params={}, description="returns the roles ACL entries may give")
async def getAll(ctx: CallContext) -> list[dict[str, Any]]:
    return [
        {"id": role, "name": ROLE_NAMES[role], "permissions": list(actions)}
        for role, actions in ROLES.items()
    ]
