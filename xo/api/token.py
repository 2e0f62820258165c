"""``token.*``: authentication tokens (xo-cli's ``register``, the browser's ``token`` cookie).

A deleted token also closes the connections signed in with it.
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import invalid_parameters, no_such_object
from xo.api.registry import Namespace
from xo.auth.tokens import InvalidExpiresIn
from xo.objects.filter import compile_filter
from xo.store.records import Token

api = Namespace("token")

_SELECTION = {
    "tokens": {"type": "array", "optional": True, "items": {"type": "string"}},
    "pattern": {"type": "object", "optional": True},
}


@api.method(
    params={
        "description": {"optional": True, "type": "string"},
        "client": {
            "description": "client this authentication token belongs to, if a previous token"
            " exists, it will be updated and returned",
            "optional": True,
            "type": "object",
            "properties": {
                "id": {"description": "unique identifier of this client", "type": "string"}
            },
        },
        "expiresIn": {"optional": True, "type": ["number", "string"]},
    },
    description="create a new authentication token",
)
async def create(
    ctx: CallContext,
    *,
    description: str | None = None,
    client: dict[str, Any] | None = None,
    expiresIn: float | str | None = None,
) -> str:
    user = ctx.require_user()
    try:
        token = await ctx.services.auth.create_token(
            user, expires_in=expiresIn, description=description, client=client
        )
    except InvalidExpiresIn as exc:
        raise invalid_parameters(
            errors=[
                {
                    "instancePath": "/expiresIn",
                    "schemaPath": "#/properties/expiresIn",
                    "keyword": "duration",
                    "params": {},
                    "message": str(exc),
                }
            ]
        ) from None
    return token.id


def _selected(
    tokens: list[Token], ids: list[str] | None, pattern: dict[str, Any] | None
) -> list[Token]:
    wanted = set(ids or ())
    matches = compile_filter(pattern) if pattern is not None else None
    return [t for t in tokens if t.id in wanted or (matches is not None and matches(t.public()))]


@api.method(permission="admin", params=_SELECTION, description="delete tokens of any user")
async def delete_(
    ctx: CallContext, *, tokens: list[str] | None = None, pattern: dict[str, Any] | None = None
) -> None:
    selected = {t.id for t in _selected(await ctx.store.list_tokens(), tokens, pattern)}
    await ctx.store.delete_tokens(selected)
    ctx.services.sessions.revoke_tokens(selected)


@api.method(params=_SELECTION, description="delete tokens of the current user")
async def deleteOwn(
    ctx: CallContext, *, tokens: list[str] | None = None, pattern: dict[str, Any] | None = None
) -> None:
    user = ctx.require_user()
    selected = {t.id for t in _selected(await ctx.store.list_tokens(user.id), tokens, pattern)}
    await ctx.store.delete_tokens(selected)
    ctx.services.sessions.revoke_tokens(selected)


@api.method(
    params={
        "description": {"type": ["null", "string"], "minLength": 0, "optional": True},
        "id": {"type": "string"},
    },
    description="change the description of a token of the current user",
)
async def set_(ctx: CallContext, *, id: str, description: str | None = None) -> None:
    user = ctx.require_user()
    token = await ctx.store.get_token(id)
    if token is None or (token.user_id != user.id and not user.is_admin):
        raise no_such_object(id, "token")
    await ctx.store.update_token(id, description=description)
