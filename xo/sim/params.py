"""Unmarshalling of call parameters, as lenient as ocaml-rpc (reference xapi.md §1.2).

int64 accepts an int or a decimal string; float accepts a float, an int or a numeric string; a bool
must be a bool; strings, refs, enums and datetimes must be strings (enums match case-insensitively
and are returned in their canonical spelling); sets are lists; maps are dicts. A mismatch is an
``INTERNAL_ERROR`` as xapi reports unmarshalling failures.
"""

from __future__ import annotations

from typing import Any

from xo.formats.xmlrpc import DateTime
from xo.sim import datamodel
from xo.sim.errors import XapiFailure
from xo.sim.schema import TypeInfo, parse_type

_ENUM_LOOKUP: dict[str, dict[str, str]] = {
    name: {v.lower(): v for v in values} for name, values in datamodel.ENUMS.items()
}


def _mismatch(expected: str, value: Any) -> XapiFailure:
    return XapiFailure(
        "INTERNAL_ERROR",
        f"Rpc.Runtime_error: expected {expected}, got {type(value).__name__} {value!r:.60}",
    )


def coerce(t: TypeInfo, value: Any) -> Any:
    kind = t.kind
    if kind in ("string", "ref"):
        if isinstance(value, str):
            return value
        raise _mismatch(kind, value)
    if kind == "int":
        if isinstance(value, bool):
            raise _mismatch("int", value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _mismatch("int", value)
    if kind == "float":
        if isinstance(value, bool):
            raise _mismatch("float", value)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _mismatch("float", value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise _mismatch("bool", value)
    if kind == "enum":
        if isinstance(value, str):
            canonical = _ENUM_LOOKUP.get(t.arg, {}).get(value.lower())
            if canonical is not None:
                return canonical
            raise XapiFailure("INTERNAL_ERROR", f"Unknown enum {t.arg} value: {value}")
        raise _mismatch(f"enum {t.arg}", value)
    if kind == "datetime":
        if isinstance(value, str):
            return DateTime(value)
        raise _mismatch("datetime", value)
    if kind == "set":
        if isinstance(value, list | tuple):
            assert t.value is not None
            return [coerce(t.value, v) for v in value]
        raise _mismatch("set", value)
    if kind == "map":
        if isinstance(value, dict):
            assert t.key is not None and t.value is not None
            return {str(k): coerce(t.value, v) for k, v in value.items()}
        raise _mismatch("map", value)
    if kind == "record":
        if isinstance(value, dict):
            return value
        raise _mismatch("record", value)
    return value


def coerce_param(type_text: str, value: Any) -> Any:
    return coerce(parse_type(type_text), value)
