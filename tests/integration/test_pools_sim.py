"""PoolManager against the real simulator over sockets (issue 3 acceptance):

(a) master failover: the cache reconnects to the new master and then equals a fresh load;
(b) a host refusing connections shows `disconnected` with its error and recovers by itself;
(c) the cache follows changes made with the XenAPI package within a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from xo.objects.store import ObjectStore
from xo.pools import Backoff, PoolManager, ServerEntry
from xo.xapi import XapiUnreachable


def fast_backoff() -> Backoff:
    # Real deployments start at 1 s; tests keep the same shape, scaled down.
    return Backoff(initial=0.05, maximum=0.5)


@asynccontextmanager
async def running_manager(store: ObjectStore | None = None) -> AsyncIterator[PoolManager]:
    store = store if store is not None else ObjectStore()
    manager = PoolManager(store, backoff_factory=fast_backoff)
    async with trio.open_nursery() as nursery:
        await nursery.start(manager.run)
        try:
            yield manager
        finally:
            nursery.cancel_scope.cancel()


def entry_for(pool, server_id: str = "s1", url: str | None = None) -> ServerEntry:
    return ServerEntry(server_id, url or pool.master_url, pool.username, pool.password)


def host_uuid(pool, index: int) -> str:
    return pool.pool.db.get("host", pool.pool.host_refs[index])["uuid"]


def pool_objects(store: ObjectStore) -> dict[str, dict]:
    return {object_id: obj for object_id, obj in store.items()}


async def barrier(xenapi, stores: list[ObjectStore], pool_ref: str, value: str) -> None:
    """Change the pool's description and wait until every store shows it: everything the sim
    did before is then in every store too (events are ordered per connection)."""
    subscriptions = [store.subscribe() for store in stores]
    await xenapi.call("pool.set_name_description", pool_ref, value)
    with trio.fail_after(5):
        for store, subscription in zip(stores, subscriptions, strict=True):
            with subscription:
                while not any(
                    obj.get("type") == "pool" and obj.get("name_description") == value
                    for obj in store.values()
                ):
                    await subscription.next_batch()


async def test_connects_and_loads_every_object(sim_pool):
    store = ObjectStore()
    async with running_manager(store) as manager:
        with trio.fail_after(10):
            await manager.connect_and_wait(entry_for(sim_pool))
        status = manager.status("s1")
        assert status.status == "connected"
        assert status.pool_id == sim_pool.pool.uuid
        assert status.master_id == host_uuid(sim_pool, sim_pool.master_index)
        assert len(status.pool_members_addresses) == 3
        vms = [o for o in store.values() if o["type"] == "VM"]
        assert len(vms) == 10
        assert store.get(sim_pool.pool.uuid)["type"] == "pool"


async def test_master_failover_then_cache_equals_a_fresh_load(sim, sim_pool, xenapi):
    store = ObjectStore()
    async with running_manager(store) as manager:
        with trio.fail_after(10):
            await manager.connect_and_wait(entry_for(sim_pool))
        before = pool_objects(store)
        connection = manager._connections["s1"]
        old_master = sim_pool.master_index
        new_master = (old_master + 1) % 3
        await sim.promote(new_master)
        await sim.stop_host(old_master)
        with trio.fail_after(10):
            status = await manager.wait_status(
                "s1",
                lambda s: (
                    s.status == "connected"
                    and s.master_id == host_uuid(sim_pool, new_master)
                    and connection.client.origin.url == sim_pool.host_urls[new_master]
                ),
            )
        assert connection.loads >= 2  # reloaded from the top on the new master
        assert status.error is None

        # a fresh load from the new master, in its own store
        fresh_store = ObjectStore()
        async with running_manager(fresh_store) as fresh:
            with trio.fail_after(10):
                await fresh.connect_and_wait(entry_for(sim_pool, "fresh", sim_pool.master_url))
            xenapi.url = sim_pool.master_url  # the fixture's session was on the old master
            await xenapi.login()
            pool_ref = (await xenapi.call("pool.get_all"))[0]
            await barrier(xenapi, [store, fresh_store], pool_ref, "after failover")
            after = pool_objects(store)
            expected = pool_objects(fresh_store)
        assert after.keys() == expected.keys()  # no duplicate, no missing object
        for object_id, obj in expected.items():
            assert after[object_id] == obj, object_id
        refs = [o["_xapiRef"] for o in after.values() if "_xapiRef" in o]
        assert len(refs) == len(set(refs))
        assert before.keys() - after.keys() == set()  # nothing lost across the failover


async def test_refused_host_is_disconnected_then_recovers_by_itself(sim_factory):
    async with sim_factory(hosts=1, vms=2) as sim:
        pool = sim.pools[0]
        store = ObjectStore()
        async with running_manager(store) as manager:
            with trio.fail_after(10):
                await manager.connect_and_wait(entry_for(pool))
            await sim.stop_host(0)
            with trio.fail_after(10):
                status = await manager.wait_status(
                    "s1", lambda s: s.status == "disconnected" and s.error is not None
                )
            assert status.error["code"] in ("UNREACHABLE", "TIMEOUT")
            assert len([o for o in store.values() if o["type"] == "VM"]) == 2  # cache kept
            # still refused a few retries later
            with trio.fail_after(10):
                await manager.wait_status(
                    "s1", lambda s: s.error is not None and "refused" in s.error["message"]
                )
            await sim.start_host(0)
            with trio.fail_after(10):
                status = await manager.wait_status("s1", lambda s: s.status == "connected")
            assert status.error is None


async def test_first_connection_to_a_refusing_host_raises_then_recovers(sim_factory):
    async with sim_factory(hosts=1, vms=1) as sim:
        pool = sim.pools[0]
        url = pool.master_url
        await sim.stop_host(0)
        async with running_manager() as manager:
            with pytest.raises(XapiUnreachable):
                await manager.connect_and_wait(entry_for(pool, url=url), timeout=10)
            assert manager.status("s1").status in ("disconnected", "connecting")
            await sim.start_host(0)
            with trio.fail_after(10):
                await manager.wait_status("s1", lambda s: s.status == "connected")


async def test_cache_follows_xenapi_changes_within_a_second(sim_pool, xenapi):
    store = ObjectStore()
    async with running_manager(store) as manager:
        with trio.fail_after(10):
            await manager.connect_and_wait(entry_for(sim_pool))
        vm_ref = next(
            ref
            for ref, vm in (await xenapi.call("VM.get_all_records")).items()
            if not vm["is_a_template"] and not vm["is_control_domain"]
        )
        with store.subscribe() as subscription:
            await xenapi.call("VM.set_name_label", vm_ref, "changed through XenAPI")
            with trio.fail_after(1):
                while True:
                    batch = await subscription.next_batch()
                    changed = [o for o in batch.enter.values() if o.get("_xapiRef") == vm_ref]
                    if changed and changed[-1]["name_label"] == "changed through XenAPI":
                        break
        assert store.get_by_ref(vm_ref)["name_label"] == "changed through XenAPI"


async def test_session_invalidation_and_cut_event_connections_reload(sim, sim_pool, xenapi):
    store = ObjectStore()
    async with running_manager(store) as manager:
        with trio.fail_after(10):
            await manager.connect_and_wait(entry_for(sim_pool))
        connection = manager._connections["s1"]
        loads = connection.loads
        sim.invalidate_sessions()
        sim.cut_event_connections()
        with trio.fail_after(10):
            await manager.wait_status(
                "s1", lambda s: s.status == "connected" and connection.loads > loads
            )
        # and events still flow afterwards
        await xenapi.login()  # its session was invalidated too
        pool_ref = (await xenapi.call("pool.get_all"))[0]
        await barrier(xenapi, [store], pool_ref, "still following")


async def test_second_entry_for_the_same_pool_is_refused(sim_pool):
    async with running_manager() as manager:
        with trio.fail_after(10):
            await manager.connect_and_wait(entry_for(sim_pool, "s1"))
            member = next(u for u in sim_pool.host_urls if u != sim_pool.master_url)
            with pytest.raises(Exception, match="this pool is already connected"):
                await manager.connect_and_wait(entry_for(sim_pool, "s2", member))
        assert manager.status("s1").status == "connected"
        assert manager.status("s2").status == "disconnected"
