"""Generic handlers of the implicit per-class messages (reference xapi.md §1.5).

``get_all``, ``get_all_records``, ``get_record``, ``get_by_uuid``, ``get_by_name_label``,
``get_<field>``, ``set_<field>``, ``add_to_<map>`` / ``remove_from_<map>``,
``add_<set>`` / ``remove_<set>``, ``create`` (from a record) and ``destroy``. Explicit messages
named like a setter of an existing field (``VM.set_memory_static_max``) are served the same way
unless a handler of their own exists.
"""

from __future__ import annotations

from typing import Any

from xo.sim.errors import XapiFailure
from xo.sim.methods.registry import Call, Handler
from xo.sim.params import coerce
from xo.sim.schema import SCHEMAS, ClassSchema


def _getter(cls: str, field: str) -> Handler:
    async def get_field(call: Call, ref: str) -> Any:
        return call.db.get(cls, ref)[field]

    return get_field


def _setter(cls: str, field: str) -> Handler:
    async def set_field(call: Call, ref: str, value: Any) -> None:
        call.db.get(cls, ref)
        call.db.update(cls, ref, **{field: value})

    return set_field


def _map_add(cls: str, field: str) -> Handler:
    async def add_to(call: Call, ref: str, key: str, value: Any) -> None:
        call.db.add_to_map(cls, ref, field, key, value)

    return add_to


def _map_remove(cls: str, field: str) -> Handler:
    async def remove_from(call: Call, ref: str, key: str) -> None:
        call.db.remove_from_map(cls, ref, field, key)

    return remove_from


def _set_add(cls: str, field: str) -> Handler:
    async def add(call: Call, ref: str, value: Any) -> None:
        call.db.add_to_set(cls, ref, field, value)

    return add


def _set_remove(cls: str, field: str) -> Handler:
    async def remove(call: Call, ref: str, value: Any) -> None:
        call.db.remove_from_set(cls, ref, field, value)

    return remove


def _get_all(cls: str) -> Handler:
    async def get_all(call: Call) -> list[str]:
        return list(call.db.all(cls))

    return get_all


def _get_all_records(cls: str) -> Handler:
    async def get_all_records(call: Call) -> dict[str, dict]:
        return dict(call.db.all(cls))

    return get_all_records


def _get_record(cls: str) -> Handler:
    async def get_record(call: Call, ref: str) -> dict:
        return call.db.get(cls, ref)

    return get_record


def _get_by_uuid(cls: str) -> Handler:
    async def get_by_uuid(call: Call, uuid: str) -> str:
        ref = call.db.find_by_uuid(cls, uuid)
        if ref is None:
            raise XapiFailure("UUID_INVALID", cls, uuid)
        return ref

    return get_by_uuid


def _get_by_name_label(cls: str) -> Handler:
    async def get_by_name_label(call: Call, label: str) -> list[str]:
        return call.db.find_by_name_label(cls, label)

    return get_by_name_label


def record_fields(schema: ClassSchema, args: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments -> typed fields (unknown keys ignored, as xapi does)."""
    fields: dict[str, Any] = {}
    for key, value in args.items():
        f = schema.fields.get(key)
        if f is None or key == "uuid":
            continue
        fields[key] = coerce(f.type, value)
    return fields


def _create(cls: str) -> Handler:
    schema = SCHEMAS[cls]

    async def create(call: Call, args: dict[str, Any]) -> str:
        return call.db.create(cls, record_fields(schema, args))

    return create


def _destroy(cls: str) -> Handler:
    async def destroy(call: Call, ref: str) -> None:
        call.db.destroy(cls, ref)

    return destroy


def implicit_handler(cls: str, msg: str, params: tuple[str, ...]) -> Handler | None:
    """The generic handler of ``cls.msg``, or None when it is not a generic message."""
    schema = SCHEMAS[cls]
    fields = schema.fields
    simple = {
        "get_all": _get_all,
        "get_all_records": _get_all_records,
        "get_record": _get_record,
        "get_by_uuid": _get_by_uuid,
        "get_by_name_label": _get_by_name_label,
        "create": _create,
        "destroy": _destroy,
    }
    if msg in simple:
        expected = {"create": f"{cls} record", "destroy": f"{cls} ref", "get_record": f"{cls} ref"}
        if msg in expected and params[1:] != (expected[msg],):
            return None  # an explicit message that only shares the name
        return simple[msg](cls)
    if msg.startswith("get_") and msg[4:] in fields:
        return _getter(cls, msg[4:])
    if msg.startswith("set_") and msg[4:] in fields and len(params) == 3:
        return _setter(cls, msg[4:])
    if msg.startswith("add_to_") and msg[7:] in fields and len(params) == 4:
        return _map_add(cls, msg[7:])
    if msg.startswith("remove_from_") and msg[12:] in fields and len(params) == 3:
        return _map_remove(cls, msg[12:])
    if msg.startswith("add_") and msg[4:] in fields and len(params) == 3:
        return _set_add(cls, msg[4:])
    if msg.startswith("remove_") and msg[7:] in fields and len(params) == 3:
        return _set_remove(cls, msg[7:])
    return None
