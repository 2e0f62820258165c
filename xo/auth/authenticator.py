"""Sign-in: passwords, tokens, throttling, and the default admin account.

The API's ``session.*`` and ``token.*`` methods call this; it raises its own exceptions
(:class:`InvalidCredentials`, :class:`SignInThrottled`), which the API layer turns into XO
errors. Nothing here logs a password or a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from xo.auth.passwords import hash_password, needs_rehash, verify_password
from xo.auth.throttle import SignInThrottle
from xo.auth.tokens import TokenPolicy, new_token_id, token_expiration
from xo.store.interface import Store
from xo.store.records import Token, User

log = logging.getLogger(__name__)

DEFAULT_ADMIN_EMAIL = "admin@admin.net"
DEFAULT_ADMIN_PASSWORD = "admin"
MAX_LAST_USES = 10  # addresses remembered per token, as XO


class InvalidCredentials(Exception):
    """Unknown account, wrong password, unknown or expired token."""


class SignInThrottled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed sign-in attempts, retry in {retry_after:.0f} s")
        self.retry_after = retry_after


def _now_ms() -> int:
    return int(time.time() * 1000)


class Authenticator:
    def __init__(
        self,
        store: Store,
        *,
        throttle: SignInThrottle | None = None,
        token_policy: TokenPolicy | None = None,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self.throttle = throttle or SignInThrottle()
        self.token_policy = token_policy or TokenPolicy()
        self.now_ms = now_ms

    async def ensure_default_admin(self) -> bool:
        """Create ``admin@admin.net`` / ``admin`` when there is no user at all (first start)."""
        if await self.store.count_users():
            return False
        await self.store.create_user(
            DEFAULT_ADMIN_EMAIL, await hash_password(DEFAULT_ADMIN_PASSWORD), "admin"
        )
        log.warning(
            "created the default admin account %s with password %r: CHANGE IT NOW",
            DEFAULT_ADMIN_EMAIL,
            DEFAULT_ADMIN_PASSWORD,
        )
        return True

    async def sign_in_with_password(self, email: str, password: str, address: str | None) -> User:
        retry_after = self.throttle.retry_after(email, address)
        if retry_after is not None:
            raise SignInThrottled(retry_after)
        user = await self.store.get_user_by_email(email) if email else None
        ok = await verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not password:
            self.throttle.failed(email, address)
            raise InvalidCredentials()
        self.throttle.succeeded(email)
        if user.password_hash is not None and needs_rehash(user.password_hash):
            await self.store.update_user(user.id, password_hash=await hash_password(password))
        return user

    async def sign_in_with_token(self, token_id: str, address: str | None) -> tuple[User, Token]:
        retry_after = self.throttle.retry_after(None, address)
        if retry_after is not None:
            raise SignInThrottled(retry_after)
        # The lookup is by primary key: its timing says nothing useful about a 256-bit secret.
        token = await self.store.get_token(token_id) if token_id else None
        user = None
        if token is not None and token.expiration > self.now_ms():
            user = await self.store.get_user(token.user_id)
        if token is None or user is None:
            self.throttle.failed(None, address)  # guessing tokens counts against the address
            raise InvalidCredentials()
        if address is not None:
            uses = dict(token.last_uses)
            uses.pop(address, None)
            uses[address] = {"timestamp": self.now_ms()}
            while len(uses) > MAX_LAST_USES:
                uses.pop(next(iter(uses)))
            token = await self.store.update_token(token.id, last_uses=uses) or token
        return user, token

    async def create_token(
        self,
        user: User,
        *,
        expires_in: int | float | str | None = None,
        description: str | None = None,
        client: dict[str, Any] | None = None,
    ) -> Token:
        """A new token, or the refreshed one of the same ``client.id`` (XO's behaviour)."""
        now = self.now_ms()
        expiration = token_expiration(expires_in, now, self.token_policy)
        client_id = client.get("id") if client else None
        if client_id is not None:
            for existing in await self.store.list_tokens(user.id):
                if (existing.client or {}).get("id") == client_id and existing.expiration > now:
                    fields: dict[str, Any] = {"expiration": expiration, "client": client}
                    if description is not None:
                        fields["description"] = description
                    refreshed = await self.store.update_token(existing.id, **fields)
                    if refreshed is not None:
                        return refreshed
        token = Token(
            id=new_token_id(),
            user_id=user.id,
            created_at=now,
            expiration=expiration,
            description=description,
            client=client,
        )
        return await self.store.create_token(token)

    async def change_password(self, user_id: str, new_password: str) -> set[str]:
        """Set a new password; the user's tokens die with the old one (their ids returned, so
        the connections using them can be closed)."""
        await self.store.update_user(user_id, password_hash=await hash_password(new_password))
        tokens = {t.id for t in await self.store.list_tokens(user_id)}
        await self.store.delete_tokens(tokens)
        return tokens
