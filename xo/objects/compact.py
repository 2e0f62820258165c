"""Packed XO objects: how the ObjectStore holds 65,000 objects without 65,000 dict tables.

A published object is kept as one tuple ``(shape, value, value, ...)`` where the shape is the
tuple of its keys, shared by every object with the same keys in the same order (a few hundred
shapes for a whole pool). The values are the very objects the dict held (shared strings, maps,
lists), so packing copies no data: it trades the dict's hash table (a VM's 48 keys need a
128-slot table, ~1.5 KB) for 8 bytes per value (~0.4 KB).

Reading unpacks into a fresh dict (a copy of the shape's template dict, then its values:
~1.5 µs for a VM); objects are never
mutated, so a fresh copy is indistinguishable from the original for callers. Equality of two
packed objects is tuple equality: the shapes are compared by identity first, then the values
(shared values by identity).

Measured with ``python -m bench objects`` (docs/objects.md, "Memory and speed").
"""

from __future__ import annotations

from typing import Any

XoObject = dict[str, Any]
Packed = tuple[Any, ...]


class Shape:
    """The keys of packed objects, in order, and where each key's value sits in the tuple."""

    __slots__ = ("keys", "positions", "template")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.positions = {key: i for i, key in enumerate(keys, 1)}
        # copying a dict that already has every key, then setting the values, is ~2x faster
        # than building it key by key (no table growth)
        self.template: XoObject = dict.fromkeys(keys)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Shape) and self.keys == other.keys)

    def __hash__(self) -> int:
        return hash(self.keys)

    def __repr__(self) -> str:
        return f"Shape{self.keys!r}"


class Shapes:
    """Interns shapes: equal key tuples become one shared :class:`Shape`.

    Beyond ``limit`` distinct shapes (objects with unbounded key sets, which the transforms do
    not make), new shapes are no longer interned: still correct, since shapes compare by value.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._shapes: dict[tuple[str, ...], Shape] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._shapes)

    def pack(self, obj: XoObject) -> Packed:
        keys = tuple(obj)
        shape = self._shapes.get(keys)
        if shape is None:
            shape = Shape(keys)
            if len(self._shapes) < self._limit:
                self._shapes[keys] = shape
        return (shape, *obj.values())


def unpack(packed: Packed) -> XoObject:
    """A fresh dict equal to the object that was packed."""
    values = iter(packed)
    shape = next(values)
    obj = shape.template.copy()
    obj.update(zip(shape.keys, values, strict=True))
    return obj


def field(packed: Packed, key: str, default: Any = None) -> Any:
    """One value of a packed object without unpacking it."""
    position = packed[0].positions.get(key)
    return default if position is None else packed[position]
