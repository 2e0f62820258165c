"""XAPI classes as the simulator models them: field types, defaults, RW fields, messages.

Built from :mod:`xo.sim.datamodel` (facts generated from XAPI's own datamodel dump). A record is a
plain ``dict`` of every field of its class (removed fields xapi still serialises included) holding
typed Python values: ``int`` (int64), ``float``, ``bool``, ``str`` (refs, uuids, enums),
:class:`~xo.formats.xmlrpc.DateTime` (datetimes, a ``str`` subclass), ``list`` (sets) and ``dict``
(maps, string keys), so the XML-RPC and JSON-RPC encoders can both emit them correctly.
"""

from __future__ import annotations

import random
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

    @property
    def lower(self) -> str:
        return self.name.lower()

    def default_record(self) -> dict[str, Any]:
        """A fresh record holding every field's default. Default containers are shared: records
        are values that are replaced, never mutated in place (see xo.sim.db)."""
        return self._template.copy()

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
        bits = self._random.getrandbits(128)
        # Version 4 and RFC 4122 variant bits, as uuid.UUID(int=..., version=4) sets them.
        bits = (bits & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ref(self) -> str:
        return "OpaqueRef:" + self.uuid()

    def randbelow(self, n: int) -> int:
        return self._random.randrange(n)


# One-to-many relations xapi maintains (datamodel.ml ``all_relations``): setting the ref field of
# a child updates the set field of its parent (and the parent gets a ``mod`` event).
_RELATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("VM", "snapshot_of", "VM", "snapshots"),
    ("VDI", "snapshot_of", "VDI", "snapshots"),
    ("VM", "parent", "VM", "children"),
    ("task", "subtask_of", "task", "subtasks"),
    ("PIF", "bond_slave_of", "Bond", "slaves"),
    ("Bond", "master", "PIF", "bond_master_of"),
    ("VLAN", "tagged_PIF", "PIF", "VLAN_slave_of"),
    ("PBD", "host", "host", "PBDs"),
    ("PBD", "SR", "SR", "PBDs"),
    ("VBD", "VDI", "VDI", "VBDs"),
    ("crashdump", "VDI", "VDI", "crash_dumps"),
    ("VBD", "VM", "VM", "VBDs"),
    ("crashdump", "VM", "VM", "crash_dumps"),
    ("VIF", "VM", "VM", "VIFs"),
    ("VIF", "network", "network", "VIFs"),
    ("PIF", "host", "host", "PIFs"),
    ("PIF", "network", "network", "PIFs"),
    ("VDI", "SR", "SR", "VDIs"),
    ("VTPM", "VM", "VM", "VTPMs"),
    ("console", "VM", "VM", "consoles"),
    ("VM", "resident_on", "host", "resident_VMs"),
    ("host_cpu", "host", "host", "host_CPUs"),
    ("host_crashdump", "host", "host", "crashdumps"),
    ("host_patch", "host", "host", "patches"),
    ("host_patch", "pool_patch", "pool_patch", "host_patches"),
    ("VM", "appliance", "VM_appliance", "VMs"),
    ("VGPU", "VM", "VM", "VGPUs"),
    ("PCI", "host", "host", "PCIs"),
    ("PGPU", "host", "host", "PGPUs"),
    ("PUSB", "host", "host", "PUSBs"),
    ("VUSB", "VM", "VM", "VUSBs"),
    ("Feature", "host", "host", "features"),
    ("Certificate", "host", "host", "certificates"),
)

RELATIONS: dict[str, tuple[tuple[str, str, str], ...]] = {}
"""child class -> ((child ref field, parent class, parent set field), ...)"""
for _child, _field, _parent, _set in _RELATIONS:
    if _child in SCHEMAS and _parent in SCHEMAS and _field in SCHEMAS[_child].fields:
        RELATIONS[_child] = (*RELATIONS.get(_child, ()), (_field, _parent, _set))
del _child, _field, _parent, _set
