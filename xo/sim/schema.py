"""XAPI classes as the simulator models them: field types, defaults, RW fields, messages.

Built from :mod:`xo.sim.datamodel` (facts generated from XAPI's own datamodel dump). A record is a
plain ``dict`` of every field of its class (removed fields xapi still serialises included) holding
typed Python values: ``int`` (int64), ``float``, ``bool``, ``str`` (refs, uuids, enums),
:class:`~xo.formats.xmlrpc.DateTime` (datetimes, a ``str`` subclass), ``list`` (sets) and ``dict``
(maps, string keys), so the XML-RPC and JSON-RPC encoders can both emit them correctly.
"""

from __future__ import annotations

import copy
import random
import uuid as _uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from xo.formats.xmlrpc import DateTime
from xo.sim import datamodel

NULL_REF = "OpaqueRef:NULL"
EPOCH = DateTime("19700101T00:00:00Z")

# Classes of the datamodel that are not database tables of the simulator.
NOT_TABLES = frozenset({"session"})


@dataclass(frozen=True)
class TypeInfo:
    """A parsed XAPI type: ``kind`` is one of string, int, float, bool, datetime, ref, enum,
    set, map, record, void; ``arg`` is the referenced class / enum name / element type."""

    kind: str
    arg: str = ""
    key: TypeInfo | None = None
    value: TypeInfo | None = None


@cache
def parse_type(text: str) -> TypeInfo:
    text = text.strip()
    if text.startswith("(") and text.endswith(") map"):
        inner = text[1:-5]
        k, v = inner.split(" -> ", 1)
        return TypeInfo("map", key=parse_type(k), value=parse_type(v))
    if text.endswith(" set"):
        return TypeInfo("set", value=parse_type(text[:-4]))
    if text.endswith(" ref"):
        return TypeInfo("ref", text[:-4])
    if text.endswith(" record"):
        return TypeInfo("record", text[:-7])
    if text.startswith("enum "):
        return TypeInfo("enum", text[5:])
    if text in ("string", "int", "float", "bool", "datetime", "void"):
        return TypeInfo(text)
    return TypeInfo("string", text)  # exotic result descriptions ("an event batch", ...)


def zero_value(t: TypeInfo) -> Any:
    if t.kind == "int":
        return 0
    if t.kind == "float":
        return 0.0
    if t.kind == "bool":
        return False
    if t.kind == "ref":
        return NULL_REF
    if t.kind == "datetime":
        return EPOCH
    if t.kind == "set":
        return []
    if t.kind in ("map", "record"):
        return {}
    if t.kind == "enum":
        values = datamodel.ENUMS.get(t.arg)
        return values[0] if values else ""
    return ""


@dataclass(frozen=True)
class Field:
    name: str
    type: TypeInfo
    qualifier: str  # "RW", "RO/constructor" or "RO/runtime"
    default: Any
    state: str  # Published, Deprecated, Removed, Prototyped

    @property
    def writable(self) -> bool:
        return self.qualifier == "RW"


@dataclass
class ClassSchema:
    name: str
    fields: dict[str, Field]
    messages: dict[str, tuple[tuple[str, ...], str, bool]]
    _template: dict[str, Any] = field(default_factory=dict, repr=False)
    _mutable: tuple[str, ...] = ()

    @property
    def lower(self) -> str:
        return self.name.lower()

    def default_record(self) -> dict[str, Any]:
        """A fresh record holding every field's default (containers are fresh objects)."""
        rec = self._template.copy()
        for name in self._mutable:
            rec[name] = copy.copy(rec[name])
        return rec

    def has_name_label(self) -> bool:
        return "name_label" in self.fields


def _field_default(f: tuple) -> Any:
    name, ftype, qualifier, default, state = f
    t = parse_type(ftype)
    if default is None:
        return zero_value(t)
    if t.kind == "datetime":
        return DateTime(default)
    if t.kind == "float":
        return float(default)
    return default


def _build() -> dict[str, ClassSchema]:
    schemas: dict[str, ClassSchema] = {}
    for cls, raw_fields in datamodel.FIELDS.items():
        if cls in NOT_TABLES:
            continue
        fields = {
            f[0]: Field(f[0], parse_type(f[1]), f[2], _field_default(f), f[4]) for f in raw_fields
        }
        schema = ClassSchema(cls, fields, datamodel.MESSAGES.get(cls, {}))
        schema._template = {name: f.default for name, f in fields.items()}
        schema._mutable = tuple(
            name for name, f in fields.items() if isinstance(f.default, list | dict)
        )
        schemas[cls] = schema
    return schemas


SCHEMAS: dict[str, ClassSchema] = _build()
"""Every simulated table, by XAPI class name (``VM``, ``host``, ``VM_metrics`` ...)."""

CLASS_BY_LOWER: dict[str, str] = {name.lower(): name for name in SCHEMAS}
"""Lowercase name (as in events and subscriptions) -> class name."""


class IdSource:
    """uuid4-shaped identifiers from a seeded generator, so a scenario is reproducible."""

    def __init__(self, seed: int | str | None = None) -> None:
        self._random = random.Random(seed)

    def uuid(self) -> str:
        return str(_uuid.UUID(int=self._random.getrandbits(128), version=4))

    def ref(self) -> str:
        return "OpaqueRef:" + self.uuid()

    def randbelow(self, n: int) -> int:
        return self._random.randrange(n)
