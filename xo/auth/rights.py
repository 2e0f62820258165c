"""Object rights of every user, live: ACL evaluation (:mod:`xo.auth.acl`) over the object graph
(:mod:`xo.auth.graph`) with the users, groups and ACL entries of the store.

:class:`AclRights` is the dispatcher's :class:`~xo.auth.permissions.ObjectRights` and the
filter of what each connection sees. It keeps an in-memory snapshot of the store's rights data
(users' global permission and groups, ACL entries), reloaded in one read after every write
that can change it (:meth:`reload`, awaited by the API method that wrote, so the next call sees
it). Per user it keeps a :class:`~xo.auth.acl.Resolver` whose memo makes filtering 10,000
objects one evaluation each; graph changes make the index forget exactly the ids whose rights
may have changed, and a change of a user's explicit permissions (an ACL entry on it or on one of
its groups, a membership, its global permission) drops that user's resolver and bumps its
generation, which wakes its connections (:meth:`wait_changed`) to send what entered or left its
view.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import trio

from xo.auth.acl import Explicit, Resolver, explicit_permissions, role_actions
from xo.auth.graph import ObjectGraph, WatchableObjects
from xo.store.interface import Store
from xo.store.records import Acl, RightsData, User

EMPTY = RightsData({}, {}, ())


def _explicit_by_user(data: RightsData) -> dict[str, Explicit]:
    by_subject: dict[str, list[tuple[str, str]]] = {}
    for acl in data.acls:
        by_subject.setdefault(acl.subject, []).append((acl.object, acl.action))
    result: dict[str, Explicit] = {}
    for user_id in data.permissions:
        entries = list(by_subject.get(user_id, ()))
        for group_id in data.groups.get(user_id, ()):
            entries.extend(by_subject.get(group_id, ()))
        result[user_id] = explicit_permissions(entries)
    return result


class AclRights:
    def __init__(self, objects: WatchableObjects | None) -> None:
        self.objects = objects
        self.graph = ObjectGraph(objects) if objects is not None else None
        self._data = EMPTY
        self._explicit: dict[str, Explicit] = {}
        self._resolvers: dict[str, Resolver] = {}
        # per user: dirty id sets its resolver has not forgotten yet (shared, never mutated):
        # forgetting is done by the user's own next evaluation, not by whoever synced the graph
        self._stale: dict[str, list[set[str]]] = {}
        self._generations: dict[str, int] = {}
        self._changed = trio.Event()
        self._lock = trio.Lock()
        self._loaded = False
        if self.graph is not None:
            self.graph.on_dirty(self._forget)

    def close(self) -> None:
        if self.graph is not None:
            self.graph.close()

    # -- the rights data ------------------------------------------------------------------------

    async def reload(self, store: Store) -> set[str]:
        """Re-read the store's rights data; returns the ids of users whose rights changed."""
        async with self._lock:
            changed = self.apply(await store.load_rights())
            self._loaded = True
            return changed

    async def ensure_loaded(self, store: Store) -> None:
        """Load the rights data once (the first call, or the app at start-up)."""
        if not self._loaded:
            await self.reload(store)

    def apply(self, data: RightsData) -> set[str]:
        explicit = _explicit_by_user(data)
        old_data, old_explicit = self._data, self._explicit
        changed = {
            user_id
            for user_id in set(explicit) | set(old_explicit)
            if explicit.get(user_id) != old_explicit.get(user_id)
            or data.permissions.get(user_id) != old_data.permissions.get(user_id)
        }
        self._data, self._explicit = data, explicit
        for user_id in changed:
            self._resolvers.pop(user_id, None)
            self._stale.pop(user_id, None)
            self._generations[user_id] = self._generations.get(user_id, 0) + 1
        if changed:
            self._changed.set()
            self._changed = trio.Event()
        return changed

    def generation(self, user_id: str) -> int:
        return self._generations.get(user_id, 0)

    async def wait_changed(self, user_id: str, generation: int) -> None:
        """Return once ``user_id``'s rights differ from ``generation``'s."""
        while self.generation(user_id) == generation:
            await self._changed.wait()

    def permission(self, user_id: str | None) -> str | None:
        """The user's global permission (None: no such user)."""
        return None if user_id is None else self._data.permissions.get(user_id)

    def is_admin(self, user_id: str | None) -> bool:
        return self.permission(user_id) == "admin"

    def explicit(self, user_id: str) -> Explicit:
        return self._explicit.get(user_id, {})

    def current_permissions(self, user_id: str) -> dict[str, dict[str, int]]:
        """``acl.getCurrentPermissions``: ``{object id: {action: 1}}``, explicit entries only."""
        return {
            object_id: {action: 1 for action in sorted(actions)}
            for object_id, actions in self.explicit(user_id).items()
        }

    def acls(self) -> tuple[Acl, ...]:
        return self._data.acls

    # -- evaluation -----------------------------------------------------------------------------

    def _get(self, object_id: str) -> dict[str, Any] | None:
        return self.objects.get(object_id) if self.objects is not None else None

    STALE_SETS = 32  # beyond this many pending sets, a resolver is dropped, not cleaned

    def _forget(self, ids: set[str]) -> None:
        dropped = []
        for user_id, stale in self._stale.items():
            stale.append(ids)
            if len(stale) > self.STALE_SETS:  # a user not evaluating lately: start afresh
                dropped.append(user_id)
        for user_id in dropped:
            del self._stale[user_id]
            del self._resolvers[user_id]

    async def prepare(self, user_id: str | None) -> None:
        """Before evaluating ``user_id``'s rights from a task: build the graph index (on first
        need) in slices that let other tasks run. Nothing for admins."""
        if self.graph is not None and user_id is not None and not self.is_admin(user_id):
            await self.graph.build()

    def resolver(self, user_id: str) -> Resolver:
        if self.graph is not None:
            self.graph.sync()
        resolver = self._resolvers.get(user_id)
        if resolver is None:
            resolver = Resolver(self.explicit(user_id), self._get)
            self._resolvers[user_id] = resolver
            self._stale[user_id] = []
        else:
            stale = self._stale[user_id]
            if stale:
                self._stale[user_id] = []
                for ids in stale:
                    resolver.forget(ids)
        return resolver

    def allows(self, user: User, object_id: str, action: str) -> bool:
        """:class:`~xo.auth.permissions.ObjectRights`: ``action`` on an object (admins: all)."""
        if user.is_admin:
            return True
        return self.resolver(user.id).allowed(object_id, action)

    def can_view(self, user_id: str | None, object_id: str) -> bool:
        if user_id is None:
            return False
        if self.is_admin(user_id):
            return self._get(object_id) is not None
        return self.resolver(user_id).allowed(object_id, "view")

    def visible(
        self, user_id: str | None, objects: Iterable[dict[str, Any]]
    ) -> Iterator[dict[str, Any]]:
        """The objects of ``objects`` that ``user_id`` may view, in order."""
        if user_id is None or self.permission(user_id) is None:
            return
        if self.is_admin(user_id):
            yield from objects
            return
        allowed = self.resolver(user_id).allowed
        for obj in objects:
            if allowed(obj.get("id"), "view"):
                yield obj


def valid_role(role: str) -> bool:
    return role_actions(role) != (role,)
