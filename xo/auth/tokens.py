"""Authentication tokens: ids and lifetimes (pure; storage is xo/store's job).

A token id is the bearer secret itself: 32 random bytes from the OS CSPRNG, base64url without
padding (43 characters), as XO makes them. Lifetimes follow XO's rules: ``expiresIn`` is a
duration (see :mod:`xo.auth.durations`), at least one minute, at most ``max_validity``
(half a year), ``default_validity`` (30 days) when not given.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from xo.auth.durations import DAY, MINUTE, YEAR, InvalidDuration, parse_duration

TOKEN_BYTES = 32


def new_token_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")


@dataclass(frozen=True)
class TokenPolicy:
    default_validity_ms: float = 30 * DAY
    max_validity_ms: float = 0.5 * YEAR
    min_validity_ms: float = MINUTE


class InvalidExpiresIn(ValueError):
    pass


def token_expiration(
    expires_in: int | float | str | None, now_ms: int, policy: TokenPolicy = TokenPolicy()
) -> int:
    """The expiration timestamp (ms) of a token created at ``now_ms``."""
    if expires_in is None:
        return now_ms + int(policy.default_validity_ms)
    try:
        duration = parse_duration(expires_in)
    except InvalidDuration as exc:
        raise InvalidExpiresIn(str(exc)) from None
    if duration < policy.min_validity_ms:
        raise InvalidExpiresIn("expiresIn must be at least one minute")
    if duration > policy.max_validity_ms:
        raise InvalidExpiresIn("expiresIn must not be more than half a year")
    return now_ms + int(duration)


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(a.encode(), b.encode())
