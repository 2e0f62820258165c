"""The ACL graph index and the per-connection views: built only when needed, kept in structures
the cyclic GC does not track, admins' views without any ``known``, big batches applied in slices."""

from __future__ import annotations

import gc
from typing import Any

import trio

from xo.auth.rights import AclRights
from xo.objects.store import ObjectStore
from xo.store.records import Acl, RightsData
from xo.web.object_view import ObjectView


def _pool(n_vms: int, pool: str = "pool") -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {
        pool: {"id": pool, "type": "pool"},
        f"{pool}-host": {"id": f"{pool}-host", "type": "host", "$pool": pool},
    }
    for i in range(n_vms):
        vm = f"{pool}-vm{i}"
        objects[vm] = {"id": vm, "type": "VM", "$container": f"{pool}-host", "$pool": pool}
        objects[f"{vm}-vif"] = {"id": f"{vm}-vif", "type": "VIF", "$VM": vm, "$network": "n"}
    return objects


def _rights(permissions: dict[str, str], acls: tuple[Acl, ...] = ()) -> RightsData:
    return RightsData(permissions, {}, acls)


def _store(*pools: dict[str, dict[str, Any]]) -> ObjectStore:
    store = ObjectStore()
    for index, objects in enumerate(pools):
        store.replace_pool(f"p{index}", objects)
    return store


def test_graph_is_built_only_when_a_non_admin_evaluates() -> None:
    store = _store(_pool(20))
    rights = AclRights(store)
    rights.apply(_rights({"admin": "admin", "user": "none"}))
    assert rights.graph is not None and not rights.graph.active
    view = ObjectView(rights, store, "admin")
    view.start()
    store.apply("p0", {"pool-vm0": {**store.get("pool-vm0"), "name_label": "x"}}, ())  # type: ignore[dict-item]
    assert view.apply({"pool-vm0": store.get("pool-vm0")}, ()).enter  # type: ignore[dict-item]
    assert rights.can_view("admin", "pool-vm0")
    assert not rights.graph.active  # admins evaluate nothing
    assert not rights.can_view("user", "pool-vm0")
    assert rights.graph.active
    assert rights.graph.readers("pool-host") == {f"pool-vm{i}" for i in range(20)}


async def test_graph_build_in_slices_equals_the_synchronous_one() -> None:
    store = _store(_pool(50))
    sliced, whole = AclRights(store), AclRights(store)
    assert sliced.graph is not None and whole.graph is not None
    sliced.graph.BUILD_SLICE = 7
    data = _rights({"u": "none"}, (Acl("a", "u", "pool-vm3", "viewer"),))
    sliced.apply(data)
    whole.apply(data)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sliced.prepare, "u")
        # the store changes while the index is being built: the subscription catches it up
        store.apply(
            "p0", {"pool-vm3": {**store.get("pool-vm3"), "$container": "pool"}}, ["pool-vm4"]
        )  # type: ignore[dict-item]
    whole.graph.sync()
    sliced.graph.sync()
    assert sliced.graph._readers == whole.graph._readers
    assert sliced.graph._links == whole.graph._links
    assert sliced.graph.readers("pool") == whole.graph.readers("pool") != frozenset()


def test_long_lived_index_and_views_are_not_tracked_by_the_gc() -> None:
    store = _store(_pool(30))
    rights = AclRights(store)
    rights.apply(_rights({"u": "none"}, (Acl("a", "u", "pool", "viewer"),)))
    assert rights.graph is not None
    rights.graph.sync()
    view = ObjectView(rights, store, "u")
    view.start()
    gc.collect()
    assert view.known is not None and len(view.known) == len(store)
    assert not gc.is_tracked(view.known)
    assert rights.graph._readers and not any(map(gc.is_tracked, rights.graph._readers.values()))
    assert not any(map(gc.is_tracked, rights.graph._links.values()))


def test_admin_view_keeps_nothing_and_a_demotion_rebuilds_known_from_the_store() -> None:
    store = _store(_pool(5), _pool(3, "other"))
    rights = AclRights(store)
    rights.apply(_rights({"u": "admin"}))
    view = ObjectView(rights, store, "u")
    view.start()
    assert view.known is None
    with store.subscribe() as subscription:
        store.remove_pool("p1")  # its exit is pending when the user stops being an admin
        rights.apply(_rights({"u": "none"}, (Acl("a", "u", "pool-vm1", "viewer"),)))
        batch = subscription.get_batch_nowait()
        changes = view.refresh_all(batch.exit)
        changes.then(view.apply(batch.enter, batch.exit))
    assert changes.enter == {}
    # every id the client knew, but the VM it may still view and its VIF, left its view
    assert changes.exit == set(_pool(5)) - {"pool-vm1", "pool-vm1-vif"} | set(_pool(3, "other"))
    assert view.known == {"pool-vm1": None, "pool-vm1-vif": None}
    rights.apply(_rights({"u": "admin"}))
    promoted = view.refresh_all()
    assert promoted.enter.keys() == set(store.pool_ids("p0")) - {"pool-vm1", "pool-vm1-vif"}
    assert view.known is None


async def test_big_batches_applied_in_slices_give_the_same_changes() -> None:
    def view_after_removal(slice_size: int) -> tuple[ObjectView, ObjectStore, Any]:
        store = _store(_pool(40), _pool(40, "other"))
        rights = AclRights(store)
        rights.apply(
            _rights(
                {"u": "none"},
                (Acl("a", "u", "pool", "viewer"), Acl("b", "u", "other-vm2", "viewer")),
            )
        )
        view = ObjectView(rights, store, "u")
        view.SLICE = slice_size
        view.start()
        assert rights.graph is not None
        watch = rights.graph.watch()
        subscription = store.subscribe()
        store.remove_pool("p0")
        store.apply("p1", {"other-host": {**store.get("other-host"), "$pool": "pool"}}, ())  # type: ignore[dict-item]
        return view, subscription, watch

    results = []
    for size in (5, 10_000):
        view, subscription, watch = view_after_removal(size)
        batch = subscription.get_batch_nowait()
        changes = await view.apply_in_slices(batch.enter, batch.exit, watch.take())
        results.append((changes, view.known))
    assert results[0] == results[1]
    changes, known = results[0]
    assert changes.exit == set(_pool(40))
    assert known == {"other-vm2": None, "other-vm2-vif": None}


def test_forgetting_is_deferred_to_the_users_next_evaluation_and_bounded() -> None:
    store = _store(_pool(3))
    rights = AclRights(store)
    rights.apply(_rights({"u": "none"}, (Acl("a", "u", "pool-vm0", "viewer"),)))
    assert rights.can_view("u", "pool-vm0-vif") and not rights.can_view("u", "pool-vm1")
    first = rights.resolver("u")
    # pool-vm1 moves under the host, then the host's pool becomes visible: vm1 inherits it
    vm1 = store.get("pool-vm1")
    assert vm1 is not None
    store.apply("p0", {"pool-vm1": {**vm1, "$container": "pool"}}, ())
    rights.apply(
        _rights(
            {"u": "none"}, (Acl("a", "u", "pool-vm0", "viewer"), Acl("b", "u", "pool", "viewer"))
        )
    )
    assert rights.can_view("u", "pool-vm1")
    rights.apply(_rights({"u": "none"}, (Acl("a", "u", "pool-vm0", "viewer"),)))
    assert not rights.can_view("u", "pool-vm1")
    second = rights.resolver("u")
    for index in range(1, rights.STALE_SETS + 2):  # changes nobody evaluates for u
        vm2 = store.get("pool-vm2")
        assert vm2 is not None
        container = "pool" if index % 2 else "pool-host"
        store.apply("p0", {"pool-vm2": {**vm2, "$container": container}}, ())
        assert rights.graph is not None
        rights.graph.sync()
    assert rights.resolver("u") is not second is not first  # dropped, then made afresh
    assert rights.can_view("u", "pool-vm0") and not rights.can_view("u", "pool-vm2")
