"""Durations, tokens, throttling and password hashing."""

from __future__ import annotations

import pytest

from xo.auth.durations import DAY, YEAR, InvalidDuration, parse_duration
from xo.auth.passwords import hash_password, needs_rehash, verify_password
from xo.auth.throttle import SignInThrottle, ThrottlePolicy
from xo.auth.tokens import (
    InvalidExpiresIn,
    TokenPolicy,
    new_token_id,
    same_secret,
    token_expiration,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        (60000, 60000),
        (1.5, 1.5),
        ("30 days", 30 * DAY),
        ("0.5 year", 0.5 * YEAR),
        ("1h", 3600_000),
        ("10 minutes", 600_000),
        ("2 weeks", 14 * DAY),
        ("90s", 90_000),
        ("500", 500),
        ("1.5 Hours", 5400_000),
    ],
)
def test_durations(text: object, ms: float) -> None:
    assert parse_duration(text) == ms  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", ["", "ten days", "3 fortnights", True, None, float("inf"), "1" * 200]
)
def test_bad_durations(bad: object) -> None:
    with pytest.raises(InvalidDuration):
        parse_duration(bad)  # type: ignore[arg-type]


def test_token_expiration_bounds() -> None:
    now = 1_000_000
    assert token_expiration(None, now) == now + 30 * DAY
    assert token_expiration("1 minute", now) == now + 60_000
    assert token_expiration(60_000, now) == now + 60_000
    with pytest.raises(InvalidExpiresIn):
        token_expiration("59 seconds", now)
    with pytest.raises(InvalidExpiresIn):
        token_expiration("1 year", now)
    with pytest.raises(InvalidExpiresIn):
        token_expiration("soon", now)
    assert token_expiration("1 year", now, TokenPolicy(max_validity_ms=2 * YEAR)) == now + YEAR


def test_token_ids_are_43_base64url_chars_and_unique() -> None:
    ids = {new_token_id() for _ in range(100)}
    assert len(ids) == 100
    for token in ids:
        assert len(token) == 43
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    token = ids.pop()
    assert same_secret(token, token) and not same_secret(token, token[:-1] + "x")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_throttle_per_account_refuses_even_the_right_password_for_the_delay() -> None:
    clock = Clock()
    throttle = SignInThrottle(ThrottlePolicy(account_delay=2), clock)
    assert throttle.retry_after("a", "ip1") is None
    throttle.failed("a", "ip1")
    assert throttle.retry_after("a", "ip2") == pytest.approx(2)
    assert throttle.retry_after("b", "ip2") is None  # other accounts are unaffected
    clock.now = 2.5
    assert throttle.retry_after("a", "ip2") is None
    throttle.succeeded("a")


def test_throttle_per_address_bounds_spraying_over_accounts() -> None:
    clock = Clock()
    throttle = SignInThrottle(
        ThrottlePolicy(account_delay=0, address_burst=3, address_refill=10), clock
    )
    for i in range(3):
        assert throttle.retry_after(f"user{i}", "ip") is None
        throttle.failed(f"user{i}", "ip")
    assert throttle.retry_after("user9", "ip") == pytest.approx(10)
    assert throttle.retry_after("user9", "other-ip") is None
    clock.now = 10
    assert throttle.retry_after("user9", "ip") is None


def test_throttle_memory_is_bounded() -> None:
    throttle = SignInThrottle(ThrottlePolicy(max_entries=10), Clock())
    for i in range(100):
        throttle.failed(f"user{i}", f"ip{i}")
    assert len(throttle._account_failed_at) == 10 and len(throttle._buckets) == 10


async def test_argon2_hash_and_verify() -> None:
    digest = await hash_password("s3cret")
    assert digest.startswith("$argon2id$")
    assert await verify_password(digest, "s3cret")
    assert not await verify_password(digest, "S3cret")
    assert not await verify_password(None, "anything")
    assert not await verify_password("not a hash", "x")
    assert not needs_rehash(digest)
