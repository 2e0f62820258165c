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
pass: rare); and the start. Admins see everything: their steps skip the evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from xo.auth.rights import AclRights


@dataclass
class Changes:
    enter: dict[str, dict[str, Any]] = field(default_factory=dict)
    exit: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.enter or self.exit)


class ObjectView:
    def __init__(self, rights: AclRights, objects: Any, user_id: str) -> None:
        self.rights = rights
        self.objects = objects
        self.user_id = user_id
        self.known: set[str] = set()

    def start(self) -> None:
        """The client knows what it may view now (what xo.getAllObjects returns)."""
        self.known = {obj["id"] for obj in self.rights.visible(self.user_id, self.objects.values())}

    def refresh_all(self) -> Changes:
        """The user's rights changed: what entered and left its view."""
        visible = {
            obj["id"]: obj for obj in self.rights.visible(self.user_id, self.objects.values())
        }
        changes = Changes(
            enter={k: v for k, v in visible.items() if k not in self.known},
            exit=self.known - visible.keys(),
        )
        self.known = set(visible)
        return changes

    def apply(
        self, enter: dict[str, dict[str, Any]], exit: Iterable[str], dirty: Iterable[str] = ()
    ) -> Changes:
        """A batch of store changes, plus ids whose rights may have changed."""
        changes = Changes()
        known = self.known
        for object_id in exit:
            if object_id in known:
                known.discard(object_id)
                changes.exit.add(object_id)
        rights = self.rights
        if rights.is_admin(self.user_id):
            changes.enter = dict(enter)
            known.update(enter)
            return changes
        if rights.permission(self.user_id) is None:  # the user is gone
            changes.exit |= known
            known.clear()
            return changes
        allowed = rights.resolver(self.user_id).allowed
        for object_id, obj in enter.items():
            if allowed(object_id, "view"):
                changes.enter[object_id] = obj
                known.add(object_id)
            elif object_id in known:
                known.discard(object_id)
                changes.exit.add(object_id)
        get = self.objects.get
        for object_id in dirty:
            if object_id in enter:
                continue
            if allowed(object_id, "view"):
                if object_id not in known:
                    obj = get(object_id)
                    if obj is not None:
                        changes.enter[object_id] = obj
                        known.add(object_id)
            elif object_id in known:
                known.discard(object_id)
                changes.exit.add(object_id)
        return changes
