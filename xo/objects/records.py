"""Trimmed XAPI records: only whitelisted fields, compact storage, shared strings and maps.

``Trimmer.trim(cls, raw)`` turns a full XAPI record (a dict, as decoded from JSON-RPC/XML-RPC or
handed over by the simulator) into an immutable named tuple of a per-class type, so transforms
read ``rec.power_state``. Memory tricks, all invisible to the transforms:

- refs, uuids, enum values, map keys and map values are ``sys.intern``-ed: one copy per
  distinct string;
- small maps (platform, bios_strings, HVM_boot_params, ...) identical across thousands of VMs
  are shared through a bounded :class:`MapInterner`, which also shares small derived values
  (a VM's ``CPUs``) for the transforms;
- sets become tuples; datetimes become Unix seconds.

Speed: trimming runs for every record of a full load (60,000+ for a 10,000-VM pool), so each
class gets a trim function generated once from its field list (the ``dataclasses`` technique):
straight-line code with one inline conversion per field, no per-field Python call in the common
case where values already have their JSON-RPC types.

Records and the maps they hold are shared with the XO objects built from them: nobody may mutate
them (ObjectStore objects are immutable by contract).
"""

from __future__ import annotations

import re
import sys
from collections import namedtuple
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

import orjson

from .fields import BOOL, FIELDS, FLOAT, INT, MAP, NULL_REF, REF, REFS, STRS, SYM, TEXT, TIME
from .timestamps import to_timestamp

_intern = sys.intern
_dumps = orjson.dumps

# The one shared empty map: never mutate it (nor any map found in a record).
EMPTY_MAP: dict[str, Any] = {}


class MapInterner:
    """Deduplicates identical small maps and values; bounded so churn never grows it forever.

    The table is keyed by the hash of a value's content (an int), not by the content itself:
    values that turn out unique (other_config with a mac_seed, guest networks) cost one small
    table entry, not a second copy. A hash collision between different values just means those
    two are not shared.
    """

    # Maps with more entries than this are mostly unique (big other_configs, xenstore data).
    MAX_ITEMS = 24
    # A few MB at worst before the table is dropped and rebuilt from what arrives next.
    MAX_ENTRIES = 50_000
    # Derived values whose JSON is longer than this are mostly unique: not worth a table entry.
    MAX_SHARED_BYTES = 2048

    def __init__(self) -> None:
        self._table: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self._table)

    def intern(self, value: Any) -> dict[str, Any]:
        """A string map with interned keys and values, shared with equal maps seen before."""
        if not value:
            return EMPTY_MAP
        if value.__class__ is not dict:
            if not isinstance(value, Mapping):
                return EMPTY_MAP
            value = dict(value)
        key_hash = None
        if len(value) <= self.MAX_ITEMS:
            try:  # the JSON text tells True from 1 and 2.0 from 2; orjson makes it in C
                key_hash = hash(_dumps(value))
            except TypeError:  # non-string keys, huge ints
                return self.share(_map_with_interned_strings(value))
            shared = self._table.get(key_hash)
            if shared is not None and shared.__class__ is dict and shared == value:
                return shared  # equal JSON hashes and equal values: the same JSON
        try:  # common case, all strings: C-level interning
            candidate = dict(
                zip(map(_intern, value.keys()), map(_intern, value.values()), strict=True)
            )
        except TypeError:  # some non-string keys or values (SM features are ints)
            return self.share(_map_with_interned_strings(value))
        if key_hash is not None:
            self._remember(key_hash, candidate)
        return candidate

    def share(self, value: Any) -> Any:
        """An equal value already seen (a small dict or list), else ``value`` itself.

        For derived values identical across thousands of objects (a VM's ``CPUs``, ``memory``,
        ``tags``): one copy instead of one per object. Values must never be mutated afterwards.
        """
        if not value:
            return value
        try:
            dumped = _dumps(value)
        except TypeError:  # not JSON (huge ints...): keep a private copy
            return value
        if len(dumped) > self.MAX_SHARED_BYTES:
            return value
        key_hash = hash(dumped)
        shared = self._table.get(key_hash)
        # the hash is the JSON text's: equal values with different JSON (True/1) never meet
        if shared is not None and shared.__class__ is value.__class__ and shared == value:
            return shared
        self._remember(key_hash, value)
        return value

    def _remember(self, key_hash: int, value: Any) -> None:
        if len(self._table) >= self.MAX_ENTRIES:
            self._table.clear()
        self._table[key_hash] = value


def _map_with_interned_strings(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        _intern(str(key)): (_intern(item) if isinstance(item, str) else item)
        for key, item in value.items()
    }


# -- conversions for values that do not already have their JSON-RPC type ----------------------


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
    return _intern(value if isinstance(value, str) else str(value))


def _to_refs(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    try:
        return tuple(map(_intern, value))
    except TypeError:
        if isinstance(value, str | bytes | Mapping):
            return ()
        return tuple(_intern(str(v)) for v in value)


# One inline expression per kind; ``v`` is the raw value (never None here).
_EXPRESSIONS = {
    TEXT: "v if v.__class__ is str else str(v)",
    SYM: "intern(v) if v.__class__ is str else to_sym(v)",
    REF: "intern(v) if v.__class__ is str and v else NULL_REF",
    REFS: "to_refs(v)",
    STRS: "to_refs(v)",
    MAP: "intern_map(v)",
    BOOL: "v if v.__class__ is bool else to_bool(v)",
    INT: "v if v.__class__ is int else to_int(v)",
    FLOAT: "v if v.__class__ is float else to_float(v)",
    TIME: "to_timestamp(v)",
}


class Record(tuple):  # type: ignore[type-arg]
    """Base of the per-class record types (``VMRecord``...); ``xapi_class`` names the class."""

    __slots__ = ()
    xapi_class: str = ""
    _fields: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def __repr__(self) -> str:
        return f"<{self.xapi_class} record {getattr(self, 'uuid', '?')}>"


def _make_record_type(cls: str) -> type[Record]:
    names = tuple(FIELDS[cls])
    base = namedtuple(f"_{cls}Fields", names)  # type: ignore[misc]  # noqa: PYI024
    namespace = {"__slots__": (), "xapi_class": cls, "__repr__": Record.__repr__}
    namespace["as_dict"] = Record.as_dict
    return type(f"{cls}Record", (base, Record), namespace)


RECORD_TYPES: dict[str, type[Record]] = {cls: _make_record_type(cls) for cls in FIELDS}


_V = re.compile(r"\bv\b")


def _compile_trim(cls: str, maps: MapInterner) -> Callable[[Mapping[str, Any]], Record]:
    record_type = RECORD_TYPES[cls]
    env: dict[str, Any] = {
        "intern": _intern,
        "NULL_REF": NULL_REF,
        "to_sym": _to_sym,
        "to_refs": _to_refs,
        "intern_map": maps.intern,
        "to_bool": _to_bool,
        "to_int": _to_int,
        "to_float": _to_float,
        "to_timestamp": to_timestamp,
        "new": tuple.__new__,
        "T": record_type,
    }
    fields = FIELDS[cls]
    raw_values = ", ".join(f"v{i}" for i in range(len(fields)))
    # Records normally carry every field: one itemgetter call fetches them all (a C loop, no
    # per-field method call); a record missing some takes the ``get`` path.
    env["fetch"] = itemgetter(*fields)
    fetched = "(fetch(raw),)" if len(fields) == 1 else "fetch(raw)"  # one name: a bare value
    lines = ["def trim(raw):", "    try:", f"        ({raw_values},) = {fetched}"]
    lines += ["    except KeyError:", "        get = raw.get"]
    lines += [f"        v{i} = get({name!r})" for i, name in enumerate(fields)]
    for index, (kind, default) in enumerate(fields.values()):
        if kind == MAP and default is None:
            default = EMPTY_MAP
        env[f"d{index}"] = default
        expression = _V.sub(f"v{index}", _EXPRESSIONS[kind])
        lines.append(f"    f{index} = d{index} if v{index} is None else ({expression})")
    values = ", ".join(f"f{i}" for i in range(len(fields)))
    lines.append(f"    return new(T, ({values},))")
    exec("\n".join(lines), env)  # noqa: S102 - source built above from our own field table
    trim: Callable[[Mapping[str, Any]], Record] = env["trim"]
    return trim


class Trimmer:
    """Builds trimmed records; owns the map interner shared by one pool's records."""

    def __init__(self, maps: MapInterner | None = None) -> None:
        self.maps = maps if maps is not None else MapInterner()
        self._trims = {cls: _compile_trim(cls, self.maps) for cls in FIELDS}

    def trim(self, cls: str, raw: Mapping[str, Any]) -> Record:
        """A compact record of class ``cls`` holding only whitelisted fields of ``raw``."""
        return self._trims[cls](raw)

    def trimmer_for(self, cls: str) -> Callable[[Mapping[str, Any]], Record]:
        """The trim function of one class (saves a lookup per record in bulk loads)."""
        return self._trims[cls]
