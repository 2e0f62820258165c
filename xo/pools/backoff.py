"""Capped exponential backoff with jitter, pure (the caller sleeps)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    # 1 s first: a master restart or failover usually completes within seconds.
    initial: float = 1.0
    # 60 s cap: a host down for maintenance is noticed within a minute of its return, while
    # dozens of dead servers cost only a login attempt per minute each.
    maximum: float = 60.0
    factor: float = 2.0
    # Each delay is drawn in [delay * (1 - jitter), delay], so servers that failed together
    # (an xo-server restart, a network cut) do not retry in lockstep, and the cap holds.
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next(self) -> float:
        """The delay before the next attempt; each call backs off further."""
        base = min(self.maximum, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return base * (1 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """After a success: the next failure starts again from ``initial``."""
        self.attempt = 0
