"""``event.from``, ``event.inject`` and the legacy ``event.register/next/unregister``.

Semantics follow reference xapi.md §2: tokens ``"%020d,%020d"`` (DB generation, message
generation), ``""`` = from the beginning (every object as ``add``), one coalesced event per object
(``add`` if created after the token, else ``mod``; ``del`` without snapshot; created-and-deleted in
the window: nothing), lowercase class names, ``valid_ref_counts`` (``<i4>``) for every table, a long
poll that returns as soon as something matches (after a short batching delay) or an empty batch with
a fresh token at the timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from xo.formats.xmlrpc import Int32
from xo.sim.db import MESSAGE_CLASS, Database
from xo.sim.errors import XapiFailure, handle_invalid
from xo.sim.schema import CLASS_BY_LOWER, SCHEMAS
from xo.sim.timing import Timing

LOWER: dict[str, str] = {cls: cls.lower() for cls in SCHEMAS}


def format_token(generation: int, message_generation: int) -> str:
    return f"{generation:020d},{message_generation:020d}"


def parse_token(token: str) -> tuple[int, int]:
    if token == "":
        return 0, 0
    parts = token.split(",")
    try:
        if len(parts) == 1:
            return int(parts[0]), 0
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise XapiFailure("EVENT_FROM_TOKEN_PARSE_FAILURE", token)


@dataclass
class Subscription:
    """Parsed ``classes``: ``*``, ``class`` (any case) or ``class/ref``."""

    everything: bool = False
    classes: set[str] = field(default_factory=set)
    objects: set[str] = field(default_factory=set)  # refs

    @classmethod
    def parse(cls, items: list[str]) -> Subscription:
        sub = cls()
        sub.add(items)
        return sub

    def add(self, items: list[str]) -> None:
        for item in items:
            parts = str(item).split("/")
            if parts == ["*"]:
                self.everything = True
            elif len(parts) == 1:
                self.classes.add(parts[0].lower())
            elif len(parts) == 2:
                self.objects.add(parts[1])
            else:
                raise XapiFailure("EVENT_SUBSCRIPTION_PARSE_FAILURE", item)

    def remove(self, items: list[str]) -> None:
        for item in items:
            parts = str(item).split("/")
            if parts == ["*"]:
                self.everything = False
            elif len(parts) == 1:
                self.classes.discard(parts[0].lower())
            elif len(parts) == 2:
                self.objects.discard(parts[1])

    def empty(self) -> bool:
        return not (self.everything or self.classes or self.objects)

    def matches(self, lower_cls: str, ref: str) -> bool:
        return self.everything or lower_cls in self.classes or ref in self.objects

    def key(self) -> tuple:
        return (self.everything, frozenset(self.classes), frozenset(self.objects))

    def task_only(self) -> bool:
        return not self.everything and not self.objects and self.classes == {"task"}


@dataclass
class _Registration:
    subscription: Subscription
    last_id: int


@dataclass(eq=False)
class _Waiter:
    session: str
    scope: trio.CancelScope
    reason: BaseException | None = None


class EventService:
    """Event feeds of one pool's database."""

    def __init__(self, db: Database, timing: Timing) -> None:
        self.db = db
        self.timing = timing
        self._registrations: dict[str, _Registration] = {}
        self._waiters: set[_Waiter] = set()
        self._cache_stamp: tuple[int, int] = (-1, -1)
        self._cache: dict[Any, Any] = {}

    # --- event.from -----------------------------------------------------------------------------

    def current_token(self) -> str:
        return format_token(self.db.log.generation, self.db.message_log.generation)

    def _fresh_cache(self) -> dict[Any, Any]:
        """Results computed at the current generations (many subscribers share a token)."""
        stamp = (self.db.log.generation, self.db.message_log.generation)
        if self._cache_stamp != stamp:
            self._cache_stamp = stamp
            self._cache = {}
        return self._cache

    def valid_ref_counts(self) -> dict[str, Int32]:
        cache = self._fresh_cache()
        counts = cache.get("counts")
        if counts is None:
            counts = {LOWER[cls]: Int32(len(rows)) for cls, rows in self.db.tables.items()}
            cache["counts"] = counts
        return counts

    def collect(self, sub: Subscription, generation: int, message_generation: int) -> list[dict]:
        """Coalesced events newer than the token, in xapi's order: messages, adds, mods, dels.

        The result is shared by calls with the same subscription and token until the next
        write: treat it as read-only."""
        cache = self._fresh_cache()
        key = (sub.key(), generation, message_generation)
        events = cache.get(key)
        if events is None:
            events = cache[key] = self._collect(sub, generation, message_generation)
        return events

    def _collect(self, sub: Subscription, generation: int, message_generation: int) -> list[dict]:
        adds: list[dict] = []
        mods: list[dict] = []
        dels: list[dict] = []
        tables = self.db.tables
        for ch in self.db.log.since(generation):
            lower = LOWER[ch.cls]
            if not sub.matches(lower, ch.ref):
                continue
            if ch.deleted:
                if ch.created <= generation:
                    dels.append(_event(ch.gen, lower, "del", ch.ref, None))
            elif ch.created > generation:
                adds.append(_event(ch.gen, lower, "add", ch.ref, tables[ch.cls][ch.ref]))
            else:
                mods.append(_event(ch.gen, lower, "mod", ch.ref, tables[ch.cls][ch.ref]))
        messages: list[dict] = []
        if sub.matches(MESSAGE_CLASS, ""):
            rows = tables[MESSAGE_CLASS]
            for ch in self.db.message_log.since(message_generation):
                if ch.deleted:
                    if ch.created <= message_generation:
                        messages.append(_event(0, MESSAGE_CLASS, "del", ch.ref, None))
                else:
                    messages.append(_event(0, MESSAGE_CLASS, "add", ch.ref, rows[ch.ref]))
        messages.reverse()
        adds.reverse()
        mods.reverse()
        dels.reverse()
        return messages + adds + mods + dels

    async def from_(
        self, session: str, classes: list[str], token: str, poll_seconds: float
    ) -> dict:
        sub = Subscription.parse(classes)
        generation, message_generation = parse_token(token)
        deadline = trio.current_time() + max(0.0, float(poll_seconds))
        batch = self.timing.event_batch
        async with self._interruptible(session):
            if not sub.task_only():
                with trio.move_on_at(deadline):
                    await trio.sleep(batch)
            while True:
                changed = self.db.changed()
                events = self.collect(sub, generation, message_generation)
                if events:
                    break
                with trio.move_on_at(deadline) as waiting:
                    await changed.wait()
                if waiting.cancelled_caught:
                    break
                with trio.move_on_at(deadline):
                    await trio.sleep(batch)
        return {
            "events": events,
            "valid_ref_counts": self.valid_ref_counts(),
            "token": self.current_token(),
        }

    def inject(self, cls: str, ref: str) -> str:
        name = cls if cls in SCHEMAS else CLASS_BY_LOWER.get(cls.lower(), cls)
        if name not in SCHEMAS or not self.db.exists(name, ref):
            raise handle_invalid(cls, ref)
        self.db.touch(name, ref)
        return format_token(self.db.log.generation - 1, 0)

    # --- legacy event.register / next / unregister ----------------------------------------------

    def get_current_id(self) -> int:
        return self.db.legacy_id

    def register(self, session: str, classes: list[str]) -> None:
        reg = self._registrations.get(session)
        if reg is None:
            reg = _Registration(Subscription(), self.db.legacy_id)
            self._registrations[session] = reg
            self.db.legacy_listeners += 1
        reg.subscription.add(classes)

    def unregister(self, session: str, classes: list[str]) -> None:
        reg = self._registrations.get(session)
        if reg is None:
            return
        reg.subscription.remove(classes)
        if reg.subscription.empty():
            self.forget_session(session)

    def forget_session(self, session: str) -> None:
        if self._registrations.pop(session, None) is not None:
            self.db.legacy_listeners -= 1

    async def next(self, session: str) -> list[dict]:
        async with self._interruptible(session):
            while True:
                reg = self._registrations.get(session)
                if reg is None:
                    raise XapiFailure("SESSION_NOT_REGISTERED", session)
                if reg.last_id < self.db.legacy_lost_upto:
                    reg.last_id = self.db.legacy_id
                    raise XapiFailure("EVENTS_LOST")
                changed = self.db.changed()
                events = [
                    {
                        "id": str(eid),
                        "timestamp": f"{ts:.6f}",
                        "class": LOWER[cls],
                        "operation": op,
                        "ref": ref,
                        "snapshot": snapshot,
                    }
                    for eid, cls, op, ref, snapshot, ts in self.db.legacy_queue
                    if eid > reg.last_id and reg.subscription.matches(LOWER[cls], ref)
                ]
                if events:
                    reg.last_id = self.db.legacy_id
                    return events
                await changed.wait()
                await trio.sleep(self.timing.event_batch)
        raise AssertionError("unreachable: only an interruption leaves the loop, and it raises")

    # --- interruption (logout while blocked, fault injection) -----------------------------------

    def interrupt(self, reason: Callable[[str], BaseException], session: str | None = None) -> int:
        """Make blocked calls (of ``session``, or all) raise ``reason(session)``. Returns count."""
        count = 0
        for waiter in list(self._waiters):
            if session is None or waiter.session == session:
                waiter.reason = reason(waiter.session)
                waiter.scope.cancel()
                count += 1
        return count

    def _interruptible(self, session: str) -> _Interruptible:
        return _Interruptible(self, session)


class _Interruptible:
    def __init__(self, service: EventService, session: str) -> None:
        self._service = service
        self._waiter = _Waiter(session, trio.CancelScope())

    async def __aenter__(self) -> None:
        self._service._waiters.add(self._waiter)
        self._waiter.scope.__enter__()

    async def __aexit__(self, *exc: Any) -> bool:
        self._service._waiters.discard(self._waiter)
        suppressed = self._waiter.scope.__exit__(*exc)
        if self._waiter.reason is not None:
            raise self._waiter.reason
        return bool(suppressed)


def _event(gen: int, lower: str, op: str, ref: str, snapshot: dict | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": str(gen),
        "timestamp": "0.0",
        "class": lower,
        "operation": op,
        "ref": ref,
    }
    if snapshot is not None:
        event["snapshot"] = snapshot
    return event


__all__ = ["EventService", "Subscription", "format_token", "parse_token"]
