"""ObjectStore: diffing publication, coalescing subscriber queues, JSON helpers."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from objects_factory import build_pool

from xo.objects.feed import Batch
from xo.objects.pool_records import PoolRecords
from xo.objects.store import ObjectStore


def obj(object_id: str, value: int = 0, ref: str | None = None) -> dict[str, Any]:
    return {
        "id": object_id,
        "type": "VM",
        "value": value,
        "_xapiRef": ref or f"OpaqueRef:{object_id}",
    }


def pool_objects(vms: int = 5) -> tuple[Any, dict[str, Any], dict[str, dict[str, Any]]]:
    factory, names = build_pool(vms=vms, hosts=2)
    return factory, names, PoolRecords().load(copy.deepcopy(factory.records))


def test_reload_with_identical_data_publishes_nothing():
    factory, _, objects = pool_objects()
    store = ObjectStore()
    store.replace_pool("srv1", objects)
    with store.subscribe() as sub:
        # a reconnect rebuilds every object from scratch: equal, not identical
        store.replace_pool("srv1", PoolRecords().load(copy.deepcopy(factory.records)))
        assert sub.pending_count == 0
        assert not sub.get_batch_nowait()
    assert len(store) == len(objects)


def test_reload_with_changes_publishes_exactly_them():
    factory, names, objects = pool_objects()
    store = ObjectStore()
    store.replace_pool("srv1", objects)
    factory.get(names["vms"][0])["name_label"] = "renamed"
    gone = names["vms"][1]
    vif = factory.get(gone)["VIFs"][0]
    network = factory.get(names["network"])
    network["VIFs"].remove(vif)
    factory.get(gone)["VIFs"].remove(vif)
    vif_uuid = factory.get(vif)["uuid"]
    del factory.records["VIF"][vif]
    with store.subscribe() as sub:
        store.replace_pool("srv1", PoolRecords().load(copy.deepcopy(factory.records)))
        batch = sub.get_batch_nowait()
    changed = {factory.get(names["vms"][0])["uuid"], network["uuid"], factory.get(gone)["uuid"]}
    assert set(batch.enter) == changed
    assert batch.exit == {vif_uuid}
    assert store.get(vif_uuid) is None


def test_lookup_by_ref_and_pool_removal():
    store = ObjectStore()
    store.replace_pool("a", {"1": obj("1"), "2": obj("2")})
    store.replace_pool("b", {"3": obj("3")})
    assert store.get_by_ref("OpaqueRef:2")["id"] == "2"
    assert store.pool_ids("a") == {"1", "2"}
    with store.subscribe() as sub:
        store.remove_pool("a")
        assert sub.get_batch_nowait().exit == {"1", "2"}
    assert len(store) == 1 and store.get_by_ref("OpaqueRef:1") is None
    assert [o["id"] for o in store.values()] == ["3"]


def test_apply_drops_unchanged_and_foreign_removals():
    store = ObjectStore()
    store.replace_pool("a", {"1": obj("1")})
    store.replace_pool("b", {"2": obj("2")})
    with store.subscribe() as sub:
        store.apply("a", {"1": obj("1")}, ["2"])  # equal object; "2" belongs to pool b
        assert sub.pending_count == 0
        store.apply("a", {"1": obj("1", 1)}, [])
        assert sub.get_batch_nowait().enter == {"1": obj("1", 1)}


def test_json_bytes_is_cached_and_invalidated():
    store = ObjectStore()
    store.replace_pool("a", {"1": obj("1")})
    first = store.json_bytes("1")
    assert orjson.loads(first) == obj("1")
    assert store.json_bytes("1") is first
    store.apply("a", {"1": obj("1", 2)}, [])
    assert orjson.loads(store.json_bytes("1"))["value"] == 2
    with pytest.raises(KeyError):
        store.json_bytes("nope")


def test_get_all_objects_helpers():
    store = ObjectStore()
    store.replace_pool("a", {str(i): obj(str(i), i) for i in range(10)})
    even = lambda o: o["value"] % 2 == 0  # noqa: E731
    assert list(store.matching(even, limit=3)) == ["0", "2", "4"]
    assert orjson.loads(store.dumps_objects(even)) == {
        str(i): obj(str(i), i) for i in (0, 2, 4, 6, 8)
    }
    lines = list(store.iter_json_values(limit=2))
    assert [orjson.loads(line)["id"] for line in lines] == ["0", "1"]
    assert store.matching(limit=0) == {} and list(store.iter_json_values(limit=0)) == []


def test_add_then_remove_cancels_and_remove_then_add_is_an_update():
    store = ObjectStore()
    store.replace_pool("a", {"old": obj("old")})
    with store.subscribe() as sub:
        store.apply("a", {"new": obj("new")}, [])
        store.apply("a", {}, ["new"])
        store.apply("a", {}, ["old"])
        store.apply("a", {"old": obj("old", 5)}, [])
        batch = sub.get_batch_nowait()
    assert batch.exit == set() and batch.enter == {"old": obj("old", 5)}


# one operation: (pool, id, value) upsert or (pool, id, None) removal
operations = st.lists(
    st.tuples(st.sampled_from("ab"), st.sampled_from("uvwxyz"), st.none() | st.integers(0, 3)),
    max_size=60,
)


@given(
    initial=st.dictionaries(st.sampled_from("uvw"), st.integers(0, 3)),
    ops=operations,
    cut=st.lists(st.integers(0, 60), max_size=5),
)
@settings(max_examples=300, deadline=None)
def test_folded_batches_equal_the_store(initial, ops, cut):
    """Whatever the upserts/removals, a subscriber folding its batches sees the store."""
    store = ObjectStore()
    store.replace_pool("a", {k: obj(k, v) for k, v in initial.items()})
    sub = store.subscribe()
    view = {k: o for k, o in store.items()}
    sizes = []
    for index, (pool, object_id, value) in enumerate(ops):
        if value is None:
            store.apply(pool, {}, [object_id])
        else:
            store.apply(pool, {object_id: obj(object_id, value)}, [])
        assert sub.pending_count <= 6  # bounded by distinct ids, not by the number of changes
        if index in cut:
            sizes.append(_fold(view, sub.get_batch_nowait()))
    _fold(view, sub.get_batch_nowait())
    assert view == dict(store.items())
    sub.close()
    assert store.subscriber_count == 0


def _fold(view: dict[str, Any], batch: Batch) -> int:
    for object_id in batch.exit:
        assert object_id in view, "exit for an object the subscriber never saw"
        del view[object_id]
    view.update(batch.enter)
    return len(batch.enter) + len(batch.exit)


async def test_slow_subscriber_does_not_delay_a_fast_one():
    store = ObjectStore()
    store.replace_pool("a", {})
    received: list[int] = []
    done = trio.Event()
    with store.subscribe() as fast, store.subscribe() as slow:

        async def fast_reader() -> None:
            while True:
                batch = await fast.next_batch()
                received.append(batch.enter["x"]["value"])
                if received[-1] == 99:
                    done.set()
                    return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fast_reader)
            with trio.fail_after(5):
                for value in range(100):
                    store.apply("a", {"x": obj("x", value)}, [])
                    await trio.testing.wait_all_tasks_blocked()  # the fast reader keeps up
                await done.wait()
        # the slow one never read: it holds one pending entry, the latest state
        assert slow.pending_count == 1
        assert slow.get_batch_nowait().enter["x"]["value"] == 99
    assert received == list(range(100))  # one batch per change, none lost, none delayed


async def test_next_batch_waits_for_changes_and_close_wakes_it():
    store = ObjectStore()
    sub = store.subscribe()
    async with trio.open_nursery() as nursery:
        results: list[Any] = []

        async def reader() -> None:
            results.append(await sub.next_batch())
            try:
                await sub.next_batch()
            except trio.ClosedResourceError:
                results.append("closed")

        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        assert results == []
        store.replace_pool("a", {"1": obj("1")})
        await trio.testing.wait_all_tasks_blocked()
        assert results[0].enter == {"1": obj("1")}
        sub.close()
    assert results[1] == "closed"
    with pytest.raises(trio.ClosedResourceError):
        sub.get_batch_nowait()
