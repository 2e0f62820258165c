"""ACL evaluation: may a user do ``action`` on an object? A pure function of (the user's explicit
permissions, the object graph).

XO's model (``packages/xo-acl-resolver``, ``xo-mixins/acls.mjs``):

- an ACL entry gives a subject (a user or a group) a **role** on one object; roles grant
  actions: ``viewer`` -> view, ``operator`` -> view + operate, ``admin`` -> view + operate +
  administrate. A user's explicit permissions are those of its own entries and of its groups'.
- a right is **inherited** along the object graph: each object type says which of its fields
  point to the objects whose rights it inherits, and whether its own entries count:

  ========================  ====================  ==========================================
  type                      own entries count     inherits from (any one of)
  ========================  ====================  ==========================================
  host, network             yes                   ``$pool``
  SR, VM                    yes                   ``$container`` (a host or the pool)
  VM-template               yes                   ``$pool``
  VM-snapshot               yes                   ``$snapshot_of`` (its VM)
  VM-controller             no                    ``$container``
  VDI                       no                    ``$SR``, or the ``VM`` of any of its ``$VBDs``
  VDI-snapshot              no                    ``$snapshot_of``
  VBD                       no                    ``VDI``
  VIF                       no                    ``$network``, ``$VM``
  PIF, PCI, task            no                    ``$host``
  PBD                       no                    ``host``, ``SR``
  PUSB                      no                    ``host``
  VUSB                      no                    ``vm``
  message                   no                    ``$object``
  USB_group                 no                    every one of its ``PUSBs``
  anything else (pool...)   yes                   nothing
  ========================  ====================  ==========================================

Differences from XO, on purpose: a USB_group without PUSBs is nobody's (XO's ``[].every``
grants it to everyone), a missing VBD does not crash the evaluation, and a cycle in a
malformed graph denies instead of recursing forever.

:class:`Resolver` evaluates with a memo (so filtering 10,000 objects costs one evaluation
each); the memo stays valid until the graph changes under an object (see
:mod:`xo.auth.graph`, which says which ids to forget) or the explicit permissions change (then
the resolver is dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

ACTIONS = ("view", "operate", "administrate")
ROLES: dict[str, tuple[str, ...]] = {
    "viewer": ("view",),
    "operator": ("view", "operate"),
    "admin": ("view", "operate", "administrate"),
}
ROLE_NAMES = {"viewer": "Viewer", "operator": "Operator", "admin": "Admin"}

XoObject = Mapping[str, Any]
GetObject = Callable[[str], XoObject | None]
Explicit = Mapping[str, frozenset[str]]  # object id -> actions granted by entries on it

# type -> (own entries count, fields whose objects it inherits from (any one suffices))
_ANY: dict[str, tuple[bool, tuple[str, ...]]] = {
    "host": (True, ("$pool",)),
    "network": (True, ("$pool",)),
    "SR": (True, ("$container",)),
    "VM": (True, ("$container",)),
    "VM-template": (True, ("$pool",)),
    "VM-snapshot": (True, ("$snapshot_of",)),
    "VM-controller": (False, ("$container",)),
    "VDI-snapshot": (False, ("$snapshot_of",)),
    "VBD": (False, ("VDI",)),
    "VIF": (False, ("$network", "$VM")),
    "PIF": (False, ("$host",)),
    "PCI": (False, ("$host",)),
    "task": (False, ("$host",)),
    "PBD": (False, ("host", "SR")),
    "PUSB": (False, ("host",)),
    "VUSB": (False, ("vm",)),
    "message": (False, ("$object",)),
}
_SELF_ONLY = (True, ())

# Fields of an object that any evaluation reads: a change of one of them (or of the type) can
# change rights of the object and of everything inheriting from it. A VBD's ``VM`` is read by
# its VDI's evaluation.
_READ_FIELDS: dict[str, tuple[str, ...]] = {
    **{type_: fields for type_, (_, fields) in _ANY.items()},
    "VBD": ("VDI", "VM"),
    "VDI": ("$SR", "$VBDs"),
    "USB_group": ("PUSBs",),
}


def role_actions(role: str) -> tuple[str, ...]:
    """The actions an entry's role grants (XO: an unknown role name grants itself)."""
    return ROLES.get(role, (role,))


def explicit_permissions(entries: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """``{object id: actions}`` from ``(object id, role)`` entries (a user's and its groups')."""
    found: dict[str, set[str]] = {}
    for object_id, role in entries:
        found.setdefault(object_id, set()).update(role_actions(role))
    return {object_id: frozenset(actions) for object_id, actions in found.items()}


def _ids(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, str):
                yield item


def structure(obj: XoObject | None) -> tuple[Any, ...] | None:
    """What the evaluation reads of ``obj`` (its type and link fields): None when absent."""
    if obj is None:
        return None
    type_ = obj.get("type")
    fields = _READ_FIELDS.get(type_, ()) if isinstance(type_, str) else ()
    return (type_, *(_freeze(obj.get(field)) for field in fields))


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def links(obj: XoObject | None) -> set[str]:
    """Ids of the objects whose state the evaluation of ``obj`` reads (its graph edges)."""
    if obj is None:
        return set()
    type_ = obj.get("type")
    fields = _READ_FIELDS.get(type_, ()) if isinstance(type_, str) else ()
    found: set[str] = set()
    for field in fields:
        found.update(_ids(obj.get(field)))
    found.discard(obj.get("id"))  # type: ignore[arg-type]
    return found


class Resolver:
    """Decides rights for one set of explicit permissions over a live object graph.

    ``get`` reads the current graph. Results are memoized per action; call :meth:`forget`
    with the ids whose evaluation may have changed (the graph index computes them).
    """

    __slots__ = ("explicit", "get", "_memo", "_cycle_hits", "_in_progress")

    def __init__(self, explicit: Explicit, get: GetObject) -> None:
        self.explicit = explicit
        self.get = get
        self._memo: dict[str, dict[str, bool]] = {action: {} for action in ACTIONS}
        self._cycle_hits = 0
        self._in_progress: set[tuple[str, str]] = set()

    def forget(self, ids: Iterable[str]) -> None:
        if not isinstance(ids, set | frozenset):
            ids = set(ids)
        for action, memo in self._memo.items():
            if not memo:
                continue
            if len(ids) > len(memo):  # e.g. a whole pool left: walk the smaller side
                self._memo[action] = {k: v for k, v in memo.items() if k not in ids}
            else:
                for object_id in ids:
                    memo.pop(object_id, None)

    def forget_all(self) -> None:
        for memo in self._memo.values():
            memo.clear()

    def allowed(self, object_id: Any, action: str) -> bool:
        """Whether ``action`` is granted on ``object_id`` (absent objects: never)."""
        if not isinstance(object_id, str):
            return False
        memo = self._memo.setdefault(action, {})
        known = memo.get(object_id)
        if known is not None:
            return known
        key = (object_id, action)
        if key in self._in_progress:  # a cycle in a malformed graph
            self._cycle_hits += 1
            return False
        hits_before = self._cycle_hits
        self._in_progress.add(key)
        try:
            result = self._evaluate(object_id, action)
        finally:
            self._in_progress.discard(key)
        # A denial reached while assuming an ancestor denied may be wrong from elsewhere.
        if result or self._cycle_hits == hits_before:
            memo[object_id] = result
        return result

    def _evaluate(self, object_id: str, action: str) -> bool:
        obj = self.get(object_id)
        if obj is None:
            return False
        type_ = obj.get("type")
        if type_ == "VDI":
            return self._vdi(obj, action)
        if type_ == "USB_group":
            pusbs = list(_ids(obj.get("PUSBs")))
            return bool(pusbs) and all(self.allowed(p, action) for p in pusbs)
        own, fields = _ANY.get(type_, _SELF_ONLY) if isinstance(type_, str) else _SELF_ONLY
        if own and action in self.explicit.get(object_id, ()):
            return True
        for field in fields:
            parent = obj.get(field)
            if parent != object_id and self.allowed(parent, action):
                return True
        return False

    def _vdi(self, vdi: XoObject, action: str) -> bool:
        if self.allowed(vdi.get("$SR"), action):
            return True
        for vbd_id in _ids(vdi.get("$VBDs")):
            vbd = self.get(vbd_id)
            if vbd is not None and self.allowed(vbd.get("VM"), action):
                return True
        return False


def allowed(explicit: Explicit, get: GetObject, object_id: str, action: str) -> bool:
    """One evaluation without a lasting memo (the pure function, for tests and one-offs)."""
    return Resolver(explicit, get).allowed(object_id, action)
