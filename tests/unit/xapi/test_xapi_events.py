"""EventWatcher / follow_events: token before load, batches, continuity checks, task resync."""

from __future__ import annotations

import pytest
import trio
from xapi_fakes import Fail

from xo.xapi import ContinuityLost, EventWatcher, follow_events


class FakeEvents:
    """A pool with VMs and tasks; event.from answers from a queue the test fills."""

    def __init__(self, pool):
        self.pool = pool
        self.vms = {"OpaqueRef:vm1": {"uuid": "1", "name_label": "a"}}
        self.tasks: dict[str, dict] = {}
        self.batches: trio.MemorySendChannel
        self.batches, self._receive = trio.open_memory_channel(100)
        self.token = 0
        self.order: list[str] = []
        m = pool.methods
        m["pool.get_all"] = lambda: ["OpaqueRef:pool"]
        m["pool.get_all_records"] = lambda: {"OpaqueRef:pool": {"uuid": "p"}}
        m["host.get_all_records"] = lambda: {}
        m["VM.get_all_records"] = self.vm_records
        m["task.get_all_records"] = lambda: dict(self.tasks)
        m["event.inject"] = self.inject
        m["event.from"] = self.event_from

    def vm_records(self):
        self.order.append("load")
        return dict(self.vms)

    def inject(self, cls, ref):
        self.order.append("inject")
        assert (cls, ref) == ("pool", "OpaqueRef:pool")
        return "00000000000000000001,00000000000000000000"

    async def event_from(self, classes, token, poll_seconds):
        assert poll_seconds == 60.1 and isinstance(poll_seconds, float)
        assert set(classes) <= {"pool", "host", "VM", "task"}
        item = await self._receive.receive()
        if isinstance(item, Fail):
            raise item
        events, counts = item
        self.token += 1
        return {"events": events, "valid_ref_counts": counts, "token": f"t{self.token}"}


@pytest.fixture
def fake(pool):
    return FakeEvents(pool)


async def test_token_is_taken_before_the_load_and_classes_are_filtered(pool, fake):
    async with pool.client() as xapi:
        watcher = EventWatcher(xapi, ["pool", "host", "VM", "task", "VTPM"])
        records = await watcher.load()
    assert fake.order == ["inject", "load"]
    assert watcher.classes == ("pool", "host", "VM", "task")  # VTPM not served by this host
    assert records["VM"] == fake.vms
    assert watcher.pool_ref == "OpaqueRef:pool"


async def test_batches_map_classes_back_to_the_watched_spelling(pool, fake):
    async with pool.client() as xapi:
        watcher = EventWatcher(xapi, ["pool", "host", "VM", "task"])
        await watcher.load()
        event = {"class": "vm", "operation": "mod", "ref": "OpaqueRef:vm1", "snapshot": {"x": 1}}
        await fake.batches.send(
            ([event, {"class": "sr", "operation": "add", "ref": "r"}], {"task": 0})
        )
        batch = await watcher.next_batch()
    assert batch == [{**event, "class": "VM"}]
    tokens = [p[2] for p in pool.called("event.from")]
    assert tokens == ["00000000000000000001,00000000000000000000"]


async def test_task_events_feed_waiters_and_a_count_mismatch_rereads_tasks(pool, fake):
    async with pool.client() as xapi:
        watcher = EventWatcher(xapi, ["pool", "host", "VM", "task"])
        await watcher.load()
        task_event = {
            "class": "task",
            "operation": "add",
            "ref": "OpaqueRef:t1",
            "snapshot": {"status": "pending"},
        }
        await fake.batches.send(([task_event], {"task": 1}))
        assert await watcher.next_batch() == [task_event]
        assert len(pool.called("task.get_all_records")) == 1  # only the load
        # the deletion of t1 was lost by XAPI and t2 appeared: counts disagree -> re-read
        fake.tasks = {"OpaqueRef:t2": {"status": "success"}}
        await fake.batches.send(([], {"task": 2}))
        batch = await watcher.next_batch()
    assert {(e["operation"], e["ref"]) for e in batch} == {
        ("del", "OpaqueRef:t1"),
        ("add", "OpaqueRef:t2"),
    }


@pytest.mark.parametrize(
    "code", ["EVENTS_LOST", "SESSION_INVALID", "EVENT_FROM_TOKEN_PARSE_FAILURE"]
)
async def test_continuity_lost_on_xapi_errors(pool, fake, code):
    async with pool.client() as xapi:
        watcher = EventWatcher(xapi, ["VM"])
        await watcher.load()
        if code == "SESSION_INVALID":
            pool.invalidate_sessions()
        await fake.batches.send(Fail(code, "x"))
        with pytest.raises(ContinuityLost):
            await watcher.next_batch()
        if code == "SESSION_INVALID":
            assert xapi.session in pool.sessions  # already logged in again, ready to reload


async def test_follow_events_reloads_from_the_top_after_a_new_master(pool, fake):
    loads: list[dict] = []
    batches: list[list] = []
    loaded = trio.Event()
    reloaded = trio.Event()

    async def on_load(records):
        loads.append(records)
        (loaded if len(loads) == 1 else reloaded).set()

    async def on_batch(events):
        batches.append(events)

    async with pool.client() as xapi:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(follow_events, xapi, ["VM"], on_load, on_batch)
            await loaded.wait()
            event = {"class": "vm", "operation": "del", "ref": "OpaqueRef:vm1"}
            await fake.batches.send(([event], {}))
            pool.master = "h2:8002"  # promote: the next event.from gets HOST_IS_SLAVE
            fake.vms = {"OpaqueRef:vm2": {"uuid": "2"}}
            await fake.batches.send(([], {}))  # (answered by the new master after the reload)
            with trio.fail_after(5):
                await reloaded.wait()
            nursery.cancel_scope.cancel()
    assert batches == [[{**event, "class": "VM"}]]
    assert loads[1]["VM"] == {"OpaqueRef:vm2": {"uuid": "2"}}
    assert xapi.origin.netloc == "h2:8002"
    assert fake.order == ["inject", "load", "inject", "load"]


async def test_empty_long_poll_results_are_not_published(pool, fake):
    batches = []
    done = trio.Event()

    async def on_load(records):
        pass

    async def on_batch(events):
        batches.append(events)
        done.set()

    async with pool.client() as xapi:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(follow_events, xapi, ["VM"], on_load, on_batch)
            await fake.batches.send(([], {}))
            await fake.batches.send(([{"class": "vm", "operation": "del", "ref": "r"}], {}))
            with trio.fail_after(5):
                await done.wait()
            nursery.cancel_scope.cancel()
    assert len(batches) == 1
