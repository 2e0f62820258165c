"""Browser sign-in and sign-out (XO's ``/signin``, ``/signin/local``, ``/signout``).

- ``GET /signin``: a small form;
- ``POST /signin/local`` (form fields ``username``, ``password``, ``remember-me``): checks the
  password (throttled as API sign-ins are), creates a token (10 hours, or the default token
  validity with "remember me", as XO's session and permanent cookie validities) and sets the
  ``token`` cookie (:mod:`xo.web.cookies`), then redirects to ``/``; a wrong password answers
  401 with the form again, a throttled attempt 429 with the delay. A cross-origin POST is
  refused (403): another site cannot sign a browser into an account of its choosing;
- ``GET /signout``: deletes the cookie's token (its connections close) and clears the cookie.

The form body is read up to 16 KiB (an email and a password fit many times).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

from quart import Response
from quart.wrappers import Request

from xo.auth.authenticator import Authenticator, InvalidCredentials, SignInThrottled
from xo.auth.durations import HOUR
from xo.auth.session import SessionRegistry
from xo.auth.tokens import InvalidExpiresIn
from xo.store.interface import Store
from xo.web.cookies import clear_cookie, cookie_token, same_origin, token_cookie

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 16 * 1024
SESSION_VALIDITY_MS = 10 * HOUR  # XO's sessionCookieValidity

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - xo-server</title></head>
<body>
<h1>xo-server</h1>
{error}
<form method="post" action="/signin/local">
<p><label>Email <input name="username" autocomplete="username" required autofocus></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"
required></label></p>
<p><label><input name="remember-me" type="checkbox" value="on"> Remember me</label></p>
<p><button type="submit">Sign in</button></p>
</form>
</body></html>
"""

_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-frame-options": "DENY",  # no click-jacking of the form
    "content-security-policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
}


def page(error: str | None = None, status: int = 200) -> Response:
    shown = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return Response(_PAGE.format(error=shown), status, dict(_HEADERS))


def _redirect(location: str, cookie: str | None = None) -> Response:
    headers = {"location": location, "cache-control": "no-store"}
    response = Response("", 303, headers)
    if cookie is not None:
        response.headers.add("set-cookie", cookie)
    return response


@dataclass
class SignIn:
    auth: Authenticator
    store: Store
    sessions: SessionRegistry
    trusted_origins: frozenset[str] = frozenset()

    async def form(self) -> Response:
        return page()

    async def local(self, request: Request) -> Response:
        secure = request.scheme == "https"
        headers = request.headers
        if not same_origin(
            headers.get("origin"), headers.get("host"), secure=secure,
            trusted=self.trusted_origins,
        ):  # fmt: skip
            return page("cross-origin sign-in refused", 403)
        body = bytearray()
        async for chunk in request.body:
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return page("form too large", 413)
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
        username = (fields.get("username") or [""])[0]
        password = (fields.get("password") or [""])[0]
        remember = (fields.get("remember-me") or [""])[0] in ("on", "true", "1")
        client = request.remote_addr
        try:
            user = await self.auth.sign_in_with_password(username, password, client)
        except SignInThrottled as exc:
            return page(f"Too many failed sign-in attempts: retry in {exc.retry_after:.0f} s", 429)
        except InvalidCredentials:
            return page("Invalid email or password", 401)
        try:
            token = await self.auth.create_token(
                user,
                expires_in=None if remember else SESSION_VALIDITY_MS,
                description="browser sign-in",
            )
        except InvalidExpiresIn:  # a configured validity shorter than ours
            token = await self.auth.create_token(user, description="browser sign-in")
        max_age = max(0, (token.expiration - self.auth.now_ms()) // 1000) if remember else None
        return _redirect("/", token_cookie(token.id, secure=secure, max_age_s=max_age))

    async def signout(self, request: Request) -> Response:
        secure = request.scheme == "https"
        token_id = cookie_token(request.headers.get("cookie"))
        if token_id is not None:
            token = await self.store.get_token(token_id)
            if token is not None:
                await self.store.delete_tokens([token.id])
                self.sessions.revoke_tokens({token.id})
        return _redirect("/signin", clear_cookie(secure=secure))
