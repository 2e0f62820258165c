"""Trimmed XAPI records: only whitelisted fields, compact storage, shared strings and maps.

``trim(cls, raw)`` turns a full XAPI record (a dict, as decoded from JSON-RPC/XML-RPC or handed
over by the simulator) into a ``__slots__`` object of a per-class type, so transforms read
``rec.power_state``. Memory tricks, all invisible to the transforms:

- refs, uuids, enum values and map keys are ``sys.intern``-ed: one copy per distinct string;
- small maps (platform, bios_strings, HVM_boot_params, ...) that are identical across thousands of
  VMs are shared through a bounded :class:`MapInterner`;
- sets become tuples; datetimes become Unix seconds.

Records and the maps they hold are shared with the XO objects built from them: nobody may mutate
them (ObjectStore objects are immutable by contract).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from .fields import (
    BOOL,
    FIELDS,
    FLOAT,
    INT,
    MAP,
    NULL_REF,
    REF,
    REFS,
    STRS,
    SYM,
    TEXT,
    TIME,
)
from .timestamps import to_timestamp

_intern = sys.intern

# The one shared empty map: never mutate it (nor any map found in a record).
EMPTY_MAP: dict[str, Any] = {}

# Strings longer than this are not interned as map values (they are rarely repeated).
_MAX_INTERNED_VALUE = 128


class MapInterner:
    """Deduplicates small identical maps; bounded so that churn never grows it forever."""

    # Maps with more entries than this are mostly unique (other_config with mac_seed, networks).
    MAX_ITEMS = 24
    # ~8 MB worst case before the table is dropped and rebuilt from what arrives next.
    MAX_ENTRIES = 50_000

    def __init__(self) -> None:
        self._table: dict[tuple[Any, ...], dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._table)

    def intern(self, value: Any) -> dict[str, Any]:
        if not value or not isinstance(value, Mapping):
            return EMPTY_MAP
        small = len(value) <= self.MAX_ITEMS
        items = []
        for key, item in value.items():
            key = _intern(str(key))
            if isinstance(item, str) and len(item) <= _MAX_INTERNED_VALUE:
                item = _intern(item)
            items.append((key, item))
        if not small:
            return dict(items)
        key_tuple = tuple(items)
        try:
            shared = self._table.get(key_tuple)
        except TypeError:  # unhashable values (nested structures): keep a private copy
            return dict(items)
        if shared is None:
            if len(self._table) >= self.MAX_ENTRIES:
                self._table.clear()
            shared = self._table[key_tuple] = dict(items)
        return shared


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else None
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            return int(float(str(value)))
        except (ValueError, OverflowError):
            return None


def _to_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


def _to_sym(value: Any) -> str:
    return _intern(value) if isinstance(value, str) else _intern(str(value))


def _to_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _to_refs(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_intern(str(v)) for v in value)


def _converters(maps: MapInterner) -> dict[str, Callable[[Any], Any]]:
    return {
        TEXT: _to_text,
        SYM: _to_sym,
        REF: lambda v: _intern(v) if isinstance(v, str) and v else NULL_REF,
        REFS: _to_refs,
        STRS: _to_refs,
        MAP: maps.intern,
        BOOL: _to_bool,
        INT: _to_int,
        FLOAT: _to_float,
        TIME: to_timestamp,
    }


class Record:
    """Base of the per-class record types (``VMRecord``...); ``xapi_class`` names the class."""

    __slots__ = ()
    xapi_class: str = ""
    field_names: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.field_names}

    def __repr__(self) -> str:
        return f"<{self.xapi_class} record {getattr(self, 'uuid', '?')}>"


def _make_record_type(cls: str) -> type[Record]:
    names = tuple(FIELDS[cls])
    namespace = {"__slots__": names, "xapi_class": cls, "field_names": names}
    return type(f"{cls}Record", (Record,), namespace)


RECORD_TYPES: dict[str, type[Record]] = {cls: _make_record_type(cls) for cls in FIELDS}


class Trimmer:
    """Builds trimmed records; owns the map interner shared by one pool's records."""

    def __init__(self, maps: MapInterner | None = None) -> None:
        self.maps = maps if maps is not None else MapInterner()
        converters = _converters(self.maps)
        self._plans: dict[str, list[tuple[str, Callable[[Any], Any], Any]]] = {}
        for cls, spec in FIELDS.items():
            plan = []
            for name, (kind, default) in spec.items():
                if kind == MAP and default is None:
                    default = EMPTY_MAP
                plan.append((name, converters[kind], default))
            self._plans[cls] = plan

    def trim(self, cls: str, raw: Mapping[str, Any]) -> Record:
        """A compact record of class ``cls`` holding only whitelisted fields of ``raw``."""
        record_type = RECORD_TYPES[cls]
        record = record_type.__new__(record_type)
        setter = object.__setattr__
        get = raw.get
        for name, convert, default in self._plans[cls]:
            value = get(name)
            if value is None:
                setter(record, name, default)
            else:
                setter(record, name, convert(value))
        return record
