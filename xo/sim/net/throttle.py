"""Stream pacing for the "limit stream bandwidth" fault.

The limit is read from the pool's faults before every chunk, so changing it affects transfers
already running. Without a limit nothing is delayed.
"""

from __future__ import annotations

from typing import Any

import trio


class Throttle:
    """Sleeps so that the bytes passed to `pace()` do not exceed `faults.bandwidth` bytes/s."""

    def __init__(self, faults: Any) -> None:
        self._faults = faults
        self._ready_at = 0.0

    async def pace(self, nbytes: int) -> None:
        bandwidth = self._faults.bandwidth
        now = trio.current_time()
        if not bandwidth or bandwidth <= 0:
            self._ready_at = now
            return
        # The bytes just sent may go out when the previous ones are "paid for"; this chunk then
        # costs nbytes / bandwidth seconds before the next one.
        self._ready_at = max(self._ready_at, now) + nbytes / bandwidth
        await trio.sleep_until(self._ready_at)
