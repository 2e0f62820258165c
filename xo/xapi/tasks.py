"""Waiting for XAPI tasks (the second half of `XapiClient.call_async`).

A waiter learns the task's state two ways: task events, fed by whatever event loop runs on the
same client (`TaskEvents.feed`, called by xo.xapi.events for every ``task`` event), and
``task.get_record`` polls whose interval doubles from 50 ms up to 2 s when no event comes. With
an event loop running, a task finishing is seen at once; without one, polling still finishes the
job. The watch is registered before the first poll, so an event in between is not lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from .errors import XapiError
from .rpc import parse_task_result

FINISHED = frozenset({"success", "failure", "cancelled"})
# First poll interval: short, because many XAPI operations on a simulator or an idle host finish
# in tens of milliseconds; doubling to 2 s caps the load of a long export to one call every 2 s.
POLL_INITIAL = 0.05
POLL_MAX = 2.0


class _Slot:
    __slots__ = ("record", "changed")

    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None
        self.changed = trio.Event()


class TaskEvents:
    """Latest task records seen in events, for the tasks someone is waiting on."""

    def __init__(self) -> None:
        self._slots: dict[str, list[_Slot]] = {}

    def feed(self, ref: str, record: dict[str, Any] | None) -> None:
        """A task event: ``record`` is the snapshot, ``None`` when the task was destroyed."""
        for slot in self._slots.get(ref, ()):
            slot.record = record if record is not None else {"status": "destroyed"}
            slot.changed.set()

    def _watch(self, ref: str) -> _Slot:
        slot = _Slot()
        self._slots.setdefault(ref, []).append(slot)
        return slot

    def _unwatch(self, ref: str, slot: _Slot) -> None:
        slots = self._slots.get(ref)
        if slots is not None:
            slots.remove(slot)
            if not slots:
                del self._slots[ref]

    @property
    def watched(self) -> int:
        return len(self._slots)

    async def wait(
        self, ref: str, get_record: Callable[[str], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """Return the task record once its status is no longer pending/cancelling."""
        slot = self._watch(ref)
        try:
            record = await get_record(ref)
            delay = POLL_INITIAL
            while record.get("status") not in FINISHED:
                with trio.move_on_after(delay) as scope:
                    await slot.changed.wait()
                if scope.cancelled_caught:
                    record = await get_record(ref)
                    delay = min(delay * 2, POLL_MAX)
                    continue
                slot.changed = trio.Event()
                assert slot.record is not None
                if slot.record.get("status") == "destroyed":
                    raise XapiError("HANDLE_INVALID", ["task", ref])
                record = slot.record
            return record
        finally:
            self._unwatch(ref, slot)


def task_outcome(ref: str, record: dict[str, Any]) -> Any:
    """The result of a finished task, or its error raised as `XapiError`."""
    status = record.get("status")
    if status == "success":
        return parse_task_result(str(record.get("result", "")))
    error_info = record.get("error_info") or []
    if status == "cancelled" and not error_info:
        error_info = ["TASK_CANCELLED", ref]
    raise XapiError.from_description(error_info)
