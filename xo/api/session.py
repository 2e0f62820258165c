"""``session.*``: sign in (password or token), who am I, sign out.

``session.signIn`` takes ``{email|username, password}`` or ``{token}`` and, as XO, declares no
params schema. Failures are ``invalid credentials`` (3); throttled attempts (see
xo/auth/throttle.py) get ``forbidden operation: signIn`` (5) with the delay in ``data.reason``
where XO sends a masked -32000. ``session.getUser`` before sign-in answers ``not enough
permissions`` (2) where XO leaks a masked TypeError.
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import unauthorized
from xo.api.registry import ANY_USER, Namespace
from xo.auth.authenticator import InvalidCredentials
from xo.store.records import User

api = Namespace("session")


async def _sign_in(ctx: CallContext, credentials: dict[str, Any]) -> dict[str, Any]:
    session = ctx.session
    auth = ctx.services.auth
    token = credentials.get("token")
    if token is not None:
        if not isinstance(token, str):
            raise InvalidCredentials()
        user, record = await auth.sign_in_with_token(token, session.address)
        session.sign_in(user.id, token_id=record.id, expiration_ms=record.expiration)
        return user.public()
    email = credentials.get("email", credentials.get("username"))
    password = credentials.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise InvalidCredentials()
    user = await auth.sign_in_with_password(email, password, session.address)
    session.sign_in(user.id)
    return user.public()


@api.method(permission=None, description="sign in")
async def signIn(ctx: CallContext, **credentials: Any) -> dict[str, Any]:
    return await _sign_in(ctx, credentials)


@api.method(
    permission=None,
    params={"email": {"type": "string"}, "password": {"type": "string"}},
    description="sign in (deprecated: use session.signIn)",
)
async def signInWithPassword(ctx: CallContext, *, email: str, password: str) -> dict[str, Any]:
    return await _sign_in(ctx, {"email": email, "password": password})


@api.method(
    permission=None,
    params={"token": {"type": "string"}},
    description="sign in with a token (deprecated: use session.signIn)",
)
async def signInWithToken(ctx: CallContext, *, token: str) -> dict[str, Any]:
    return await _sign_in(ctx, {"token": token})


@api.method(permission=None, params={}, description="return the currently connected user")
async def getUser(ctx: CallContext) -> dict[str, Any]:
    user: User | None = ctx.user
    if user is None:
        raise unauthorized()
    return user.public()


@api.method(
    permission=ANY_USER, params={}, description="sign out the user from the current session"
)
async def signOut(ctx: CallContext) -> None:
    ctx.session.sign_out()
