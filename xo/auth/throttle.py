"""Sign-in throttling, per account and per client address (pure; the clock is injected).

- **Per account** (XO's rule, kept for compatibility): after a failed attempt on an account,
  every attempt on it in the next ``account_delay`` seconds is refused, even with the right
  password — a guesser gets one try per delay, the owner barely notices.
- **Per address**: each address has a bucket of ``address_burst`` failures, refilled at one
  every ``address_refill`` seconds; while empty, every sign-in attempt from that address is
  refused. This bounds password spraying over many accounts from one client.

Successful sign-ins cost nothing. Memory is bounded: at most ``max_entries`` accounts and
addresses are tracked (the least recently failed are forgotten first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ThrottlePolicy:
    account_delay: float = 2.0  # XO's throttlingDelay
    address_burst: int = 10  # failures an address may make in a row
    address_refill: float = 6.0  # seconds per failure regained (10 per minute sustained)
    max_entries: int = 10_000  # ~1 MB of state at worst


class SignInThrottle:
    def __init__(
        self, policy: ThrottlePolicy = ThrottlePolicy(), clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._account_failed_at: OrderedDict[str, float] = OrderedDict()
        # address -> (failures still allowed, time of the last update)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, address: str, now: float) -> float:
        tokens, updated = self._buckets.get(address, (float(self.policy.address_burst), now))
        refill = (
            (now - updated) / self.policy.address_refill if self.policy.address_refill else math.inf
        )
        return min(float(self.policy.address_burst), tokens + refill)

    def retry_after(self, account: str | None, address: str | None) -> float | None:
        """Seconds before an attempt may be made, or None when it may be made now."""
        now = self._clock()
        waits = []
        if account is not None and account in self._account_failed_at:
            wait = self._account_failed_at[account] + self.policy.account_delay - now
            if wait > 0:
                waits.append(wait)
        if address is not None and address in self._buckets:
            tokens = self._tokens(address, now)
            if tokens < 1:
                waits.append((1 - tokens) * self.policy.address_refill)
        return max(waits) if waits else None

    def failed(self, account: str | None, address: str | None) -> None:
        now = self._clock()
        if account is not None:
            self._account_failed_at[account] = now
            self._account_failed_at.move_to_end(account)
            self._trim(self._account_failed_at)
        if address is not None:
            self._buckets[address] = (max(0.0, self._tokens(address, now) - 1), now)
            self._buckets.move_to_end(address)
            self._trim(self._buckets)

    def succeeded(self, account: str | None) -> None:
        if account is not None:
            self._account_failed_at.pop(account, None)

    def _trim(self, entries: OrderedDict[str, Any]) -> None:
        while len(entries) > self.policy.max_entries:
            entries.popitem(last=False)
