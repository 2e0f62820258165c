"""Explicit method handlers and the context they run in.

A handler is ``async def f(call: Call, *params_after_session) -> result``, registered with
``@handler("VM.start")``. Parameters arrive unmarshalled to the types the datamodel declares.
Implicit messages (getters, setters, ``get_all_records`` ...) are served generically by
:mod:`xo.sim.methods.implicit` unless a handler here overrides them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from xo.sim.schema import NULL_REF

if TYPE_CHECKING:
    from xo.sim.db import Database
    from xo.sim.pool import SimPool

Handler = Callable[..., Awaitable[Any]]

HANDLERS: dict[str, Handler] = {}
"""Wire name (``VM.start``) -> handler."""


def handler(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            if name in HANDLERS:
                raise RuntimeError(f"duplicate handler for {name}")
            HANDLERS[name] = fn
        return fn

    return register


@dataclass
class Call:
    """One API call: who made it, where it arrived, and the task it runs in (if any)."""

    pool: SimPool
    method: str
    session: str = NULL_REF
    host: str = NULL_REF  # host the call arrived on
    task: str = NULL_REF  # the async or transient task, NULL for plain calls

    @property
    def db(self) -> Database:
        return self.pool.db

    def check_cancelled(self) -> None:
        if self.task != NULL_REF:
            self.pool.tasks.check_cancelled(self.task)

    async def work(self, seconds: float, start: float = 0.0, end: float = 1.0) -> None:
        """Spend ``seconds`` on the operation, reporting progress from ``start`` to ``end`` and
        honouring ``task.cancel`` between steps."""
        steps = max(1, self.pool.timing.progress_steps)
        self.check_cancelled()
        for i in range(1, steps + 1):
            await trio.sleep(seconds / steps)
            self.check_cancelled()
            if self.task != NULL_REF:
                self.pool.tasks.set_progress(self.task, start + (end - start) * i / steps)
