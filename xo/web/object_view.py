"""What one signed-in connection's client knows of the objects, and the notifications that keep
it exactly equal to what its user may view.

XO sends every object change to every signed-in user; here each connection tracks the ids its
client was told about (``known``: those a ``xo.getAllObjects`` at subscription time would have
returned, plus the ``enter``s and minus the ``exit``s sent since) and, at every step, sends:

- ``enter`` for objects that changed and are visible, and for objects that *became* visible
  (an ACL added, a VM that migrated onto a host the user sees...), whole;
- ``exit`` for objects that left the store or are *no longer* visible, and only for ids the
  client knows (an exit never reveals an id the user could not see).

Three kinds of step: a batch of store changes, plus the ids the graph index says may have
changed rights (:class:`~xo.auth.graph.GraphWatch`); a change of the user's rights (a full
pass: rare); and the start. Admins see everything: their views keep no ``known`` at all (their
client knows every object of the store, ~1.9 MB of ids per connection at 10,000 VMs) and pass
every change through; if an admin stops being one, ``known`` is first rebuilt from the store
(plus the ids that left it whose exit is still to be sent; ids that entered the store in the
same instant are included too: the client may get an exit for an object it was about to be told
of, never one for an object that did not exist while it was an admin).

``known`` is a ``dict[str, None]``, not a set: CPython's cyclic GC tracks every set but skips
dicts holding only strings, and 50 connections' sets of 65,000 ids made every full collection
~300 ms long (the event latency's p99). Big batches (a pool removed or loaded) are applied a
slice at a time (:meth:`ObjectView.apply_in_slices`), so other clients are served in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import trio

from xo.auth.rights import AclRights


@dataclass
class Changes:
    enter: dict[str, dict[str, Any]] = field(default_factory=dict)
    exit: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.enter or self.exit)

    def then(self, step: Changes) -> None:
        """Fold ``step`` (which happened after these changes) into these changes."""
        if step.enter:
            if self.exit:
                self.exit.difference_update(step.enter.keys())
        if step.exit:
            if self.enter:
                for object_id in step.exit:
                    self.enter.pop(object_id, None)
            self.exit |= step.exit
        if step.enter:
            if self.enter:
                self.enter.update(step.enter)
            else:
                self.enter = dict(step.enter)


class ObjectView:
    SLICE = 2000  # ids applied between two checkpoints by apply_in_slices

    def __init__(self, rights: AclRights, objects: Any, user_id: str) -> None:
        self.rights = rights
        self.objects = objects
        self.user_id = user_id
        # ids the client knows; None: every object of the store (the user is an admin)
        self.known: dict[str, None] | None = {}

    @property
    def is_admin(self) -> bool:
        return self.rights.is_admin(self.user_id)

    def start(self) -> None:
        """The client knows what it may view now (what xo.getAllObjects returns)."""
        if self.is_admin:
            self.known = None
            return
        visible = self.rights.visible(self.user_id, self.objects.values())
        self.known = dict.fromkeys(obj["id"] for obj in visible)

    def _materialize(self, exited: Iterable[str]) -> dict[str, None]:
        """An admin's ``known``, spelled out: every id of the store, plus ``exited``."""
        known = dict.fromkeys(obj["id"] for obj in self.objects.values())
        known.update(dict.fromkeys(exited))
        self.known = known
        return known

    def refresh_all(self, exited: Iterable[str] = ()) -> Changes:
        """The user's rights changed: what entered and left its view. ``exited``: ids that left
        the store whose exit the client has not been sent yet (the pending batch's)."""
        if self.is_admin:
            if self.known is None:
                return Changes()
            changes = Changes(
                enter={
                    obj["id"]: obj for obj in self.objects.values() if obj["id"] not in self.known
                }
            )
            self.known = None
            return changes
        known = self._materialize(exited) if self.known is None else self.known
        visible = {
            obj["id"]: obj for obj in self.rights.visible(self.user_id, self.objects.values())
        }
        changes = Changes(
            enter={k: v for k, v in visible.items() if k not in known},
            exit={k for k in known if k not in visible},
        )
        self.known = dict.fromkeys(visible)
        return changes

    def apply(
        self, enter: dict[str, dict[str, Any]], exit: Iterable[str], dirty: Iterable[str] = ()
    ) -> Changes:
        """A batch of store changes, plus ids whose rights may have changed."""
        changes = Changes()
        known = self.known
        if known is None:
            if self.is_admin:
                changes.enter = dict(enter)
                changes.exit = set(exit)
                return changes
            known = self._materialize(exit)
        for object_id in exit:
            if object_id in known:
                del known[object_id]
                changes.exit.add(object_id)
        rights = self.rights
        if rights.is_admin(self.user_id):  # promoted without a refresh: pass through from now
            changes.enter = dict(enter)
            self.known = None
            return changes
        if rights.permission(self.user_id) is None:  # the user is gone
            changes.exit.update(known)
            known.clear()
            return changes
        allowed = rights.resolver(self.user_id).allowed
        for object_id, obj in enter.items():
            if allowed(object_id, "view"):
                changes.enter[object_id] = obj
                known[object_id] = None
            elif object_id in known:
                del known[object_id]
                changes.exit.add(object_id)
        get = self.objects.get
        for object_id in dirty:
            if object_id in enter or object_id in changes.exit:
                continue
            if allowed(object_id, "view"):
                if object_id not in known:
                    obj = get(object_id)
                    if obj is not None:
                        changes.enter[object_id] = obj
                        known[object_id] = None
            elif object_id in known:
                del known[object_id]
                changes.exit.add(object_id)
        return changes

    async def apply_in_slices(
        self, enter: dict[str, dict[str, Any]], exit: Iterable[str], dirty: Iterable[str] = ()
    ) -> Changes:
        """:meth:`apply`, a slice of :attr:`SLICE` ids at a time with a checkpoint between
        slices when the batch is big (the changes are the same; other tasks run meanwhile)."""
        exit = exit if isinstance(exit, set | frozenset) else set(exit)
        dirty = dirty if isinstance(dirty, set | frozenset) else set(dirty)
        size = self.SLICE
        if self.known is None and self.is_admin or len(enter) + len(exit) + len(dirty) <= size:
            return self.apply(enter, exit, dirty)
        changes = Changes()
        for part in _slices(exit, size):
            changes.then(self.apply({}, part))
            await trio.lowlevel.checkpoint()
        items = iter(enter.items())
        while part_enter := dict(islice(items, size)):
            changes.then(self.apply(part_enter, ()))
            await trio.lowlevel.checkpoint()
        for part in _slices(dirty, size):
            # ids of the batch were just evaluated with the objects the batch carries
            changes.then(self.apply({}, (), [i for i in part if i not in enter and i not in exit]))
            await trio.lowlevel.checkpoint()
        return changes


def _slices(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(ids)
    while part := list(islice(it, size)):
        yield part
