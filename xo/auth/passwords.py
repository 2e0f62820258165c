"""Password hashing with argon2id (argon2-cffi), off the Trio loop.

Hashing and verifying cost tens of milliseconds of CPU on purpose, so both run in a worker
thread. :func:`verify_password` also runs a full verification against a fixed dummy hash when
the account does not exist (or has no password), so a sign-in attempt takes the same time
whether or not the email is known. argon2's own comparison of the computed and stored hash is
constant-time.
"""

from __future__ import annotations

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's password storage recommendation for argon2id (m=19 MiB, t=2, p=1): about 0.1 s per
# hash on one core of a small VM, in line with XO's sign-in time; argon2-cffi's default
# (m=64 MiB, p=4) took 0.45 s on the 2-core machines we run on and would make sign-in an easy
# CPU denial of service. Hashes made with other parameters are upgraded at the next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("this account does not exist")


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


def verify_password_sync(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash at sign-in)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password(password: str) -> str:
    return await trio.to_thread.run_sync(hash_password_sync, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await trio.to_thread.run_sync(verify_password_sync, password_hash, password)
