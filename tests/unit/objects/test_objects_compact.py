"""Packed objects (xo.objects.compact) and the store reading them back."""

from __future__ import annotations

from xo.objects.compact import Shapes, field, unpack
from xo.objects.store import ObjectStore


def test_pack_unpack_round_trip_keeps_order_and_shares_values():
    shapes = Shapes()
    tags = ["a", "b"]
    obj = {"id": "1", "type": "VM", "tags": tags, "absent": None}
    packed = shapes.pack(obj)
    back = unpack(packed)
    assert back == obj and list(back) == list(obj)
    assert back is not obj and back["tags"] is tags  # values are shared, not copied
    assert field(packed, "type") == "VM" and field(packed, "nope", 7) == 7


def test_shapes_are_shared_and_packed_equality_is_object_equality():
    shapes = Shapes()
    one = shapes.pack({"id": "1", "x": 1})
    same = shapes.pack({"id": "1", "x": 1})
    other_key = shapes.pack({"id": "1", "y": 1})
    assert one[0] is same[0] and len(shapes) == 2
    assert one == same and one != other_key
    assert one != shapes.pack({"id": "1", "x": 2})


def test_shapes_beyond_the_limit_still_compare_by_keys():
    shapes = Shapes(limit=1)
    shapes.pack({"a": 1})
    first = shapes.pack({"b": 1})
    second = shapes.pack({"b": 1})
    assert len(shapes) == 1 and first[0] is not second[0] and first == second


def test_store_hands_out_fresh_equal_dicts_and_reads_fields():
    store = ObjectStore()
    obj = {"id": "1", "type": "VM", "_xapiRef": "OpaqueRef:1", "name_label": "a"}
    store.replace_pool("p", {"1": obj})
    got = store.get("1")
    assert got == obj and got is not store.get("1")
    assert store.get_by_ref("OpaqueRef:1") == obj
    assert store.field("1", "name_label") == "a" and store.field("2", "type", "-") == "-"
    assert list(store.values()) == [obj] and list(store.items()) == [("1", obj)]
    with store.subscribe() as sub:
        store.apply("p", {"1": dict(obj)}, ())  # equal: not published
        assert not sub.get_batch_nowait()
        store.apply("p", {"1": {**obj, "name_label": "b"}}, ())
        assert sub.get_batch_nowait().enter["1"]["name_label"] == "b"
