"""Rights: a user's global level, and rights on objects (ACLs). Pure.

``check_permissions(user, [(object_id, action)], rights)`` is the seam the API dispatcher calls
with what a method's ``resolve`` and ``requires`` collected: admins bypass it; for everyone else
an :class:`ObjectRights` decides (xo.auth.rights.AclRights in the server: roles, groups,
inheritance through the object graph; :class:`DenyAll` when none is given). A refusal raises
:class:`PermissionDenied`, which the API layer turns into XO's ``not enough permissions``
(code 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from xo.auth.acl import ACTIONS, ROLES
from xo.store.records import User

__all__ = ["ACTIONS", "PERMISSION_LEVELS", "ROLES", "PermissionDenied", "check_permissions"]

# XO's scale of global permissions.
PERMISSION_LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}


class PermissionDenied(Exception):
    def __init__(self, action: str | None, object_id: str | None = None) -> None:
        super().__init__(f"{action or 'sign-in'} denied on {object_id or 'this method'}")
        self.action = action
        self.object_id = object_id


def has_level(user: User | None, level: str) -> bool:
    actual = PERMISSION_LEVELS.get(user.permission if user else "none", 0)
    return actual >= PERMISSION_LEVELS[level]


class ObjectRights(Protocol):
    """Decides whether a non-admin user may do ``action`` on an object."""

    def allows(self, user: User, object_id: str, action: str) -> bool: ...


class DenyAll:
    """No object rights for non-admins (a dispatcher built without ACL evaluation)."""

    def allows(self, user: User, object_id: str, action: str) -> bool:
        return False


DENY_ALL = DenyAll()


def check_permissions(
    user: User | None, checks: Iterable[tuple[str, str]], rights: ObjectRights = DENY_ALL
) -> None:
    """Raise :class:`PermissionDenied` for the first ``(object_id, action)`` not allowed."""
    for object_id, action in checks:
        if user is None:
            raise PermissionDenied(action, object_id)
        if user.is_admin:
            return
        if not rights.allows(user, object_id, action):
            raise PermissionDenied(action, object_id)
