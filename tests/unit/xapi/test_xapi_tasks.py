"""call_async: Async.* + waiting for the task (polling with backoff, or events) + destroy."""

from __future__ import annotations

import pytest
import trio

from xo.xapi import XapiError
from xo.xapi.tasks import POLL_MAX


class FakeTasks:
    """Tasks on the fake pool: each Async call creates a pending task completed by the test."""

    def __init__(self, pool):
        self.pool = pool
        self.records: dict[str, dict] = {}
        self.created = trio.Event()
        pool.methods["task.get_record"] = self.get_record
        pool.methods["task.destroy"] = self.destroy
        pool.methods["task.cancel"] = self.cancel

    def create(self, *params):
        ref = f"OpaqueRef:task-{len(self.records)}"
        self.records[ref] = {"status": "pending", "result": "", "error_info": []}
        self.created.set()
        return ref

    def get_record(self, ref):
        return dict(self.records[ref])

    def destroy(self, ref):
        self.records[ref]["destroyed"] = True
        return ""

    def cancel(self, ref):
        self.records[ref]["status"] = "cancelled"
        self.records[ref]["error_info"] = ["TASK_CANCELLED", ref]
        return ""


@pytest.fixture
def tasks(pool):
    return FakeTasks(pool)


async def test_call_async_returns_the_parsed_result_and_destroys_the_task(
    pool, tasks, autojump_clock
):
    pool.methods["Async.VM.clone"] = tasks.create
    async with pool.client() as xapi:
        async with trio.open_nursery() as nursery:

            async def finish_later():
                await tasks.created.wait()
                await trio.sleep(3)
                tasks.records["OpaqueRef:task-0"].update(
                    status="success", result="<value>OpaqueRef:new-vm</value>"
                )

            nursery.start_soon(finish_later)
            result = await xapi.call_async("VM.clone", "OpaqueRef:vm", "copy")
    assert result == "OpaqueRef:new-vm"
    assert pool.called("Async.VM.clone")[0][1:] == ["OpaqueRef:vm", "copy"]
    assert tasks.records["OpaqueRef:task-0"]["destroyed"]
    # polling backs off: 50 ms doubling, so 3 s take a handful of polls, not 60
    polls = len(pool.called("task.get_record"))
    assert 4 <= polls <= 10


async def test_poll_interval_is_capped(pool, tasks, autojump_clock):
    pool.methods["Async.VM.start"] = tasks.create
    async with pool.client() as xapi:
        async with trio.open_nursery() as nursery:

            async def finish_later():
                await tasks.created.wait()
                await trio.sleep(60)
                tasks.records["OpaqueRef:task-0"].update(status="success", result="<value></value>")

            nursery.start_soon(finish_later)
            assert await xapi.call_async("VM.start", "OpaqueRef:vm", False, False) == ""
    polls = len(pool.called("task.get_record"))
    assert polls <= 60 / POLL_MAX + 8


async def test_task_failure_raises_its_error_info(pool, tasks):
    def create_failed(*params):
        ref = tasks.create()
        tasks.records[ref].update(
            status="failure", error_info=["VM_BAD_POWER_STATE", "OpaqueRef:vm", "halted", "running"]
        )
        return ref

    pool.methods["Async.VM.start"] = create_failed
    async with pool.client() as xapi:
        with pytest.raises(XapiError) as info:
            await xapi.call_async("VM.start", "OpaqueRef:vm", False, False)
    assert info.value.details == ["VM_BAD_POWER_STATE", "OpaqueRef:vm", "halted", "running"]
    assert tasks.records["OpaqueRef:task-0"]["destroyed"]


async def test_task_events_wake_the_waiter_without_polling(pool, tasks, autojump_clock):
    pool.methods["Async.VM.snapshot"] = tasks.create
    async with pool.client() as xapi:
        async with trio.open_nursery() as nursery:

            async def event_later():
                await tasks.created.wait()
                await trio.sleep(0.01)  # before the first 50 ms poll
                xapi.tasks.feed(
                    "OpaqueRef:task-0",
                    {"status": "success", "result": "<value>OpaqueRef:snap</value>"},
                )

            nursery.start_soon(event_later)
            assert await xapi.call_async("VM.snapshot", "OpaqueRef:vm", "s") == "OpaqueRef:snap"
    assert len(pool.called("task.get_record")) == 1  # the initial one only
    assert xapi.tasks.watched == 0


async def test_cancelling_the_caller_cancels_the_task(pool, tasks, autojump_clock):
    pool.methods["Async.VM.export"] = tasks.create
    async with pool.client() as xapi:
        with trio.move_on_after(1):
            await xapi.call_async("VM.export", "OpaqueRef:vm")
    record = tasks.records["OpaqueRef:task-0"]
    assert record["status"] == "cancelled"
    assert record["destroyed"]


async def test_bare_string_result_is_returned_as_is(pool, tasks):
    def create_done(*params):
        ref = tasks.create()
        tasks.records[ref].update(status="success", result="OpaqueRef:patch")
        return ref

    pool.methods["Async.pool_patch.upload"] = create_done
    async with pool.client() as xapi:
        assert await xapi.call_async("pool_patch.upload") == "OpaqueRef:patch"


async def test_array_result(pool, tasks):
    def create_done(*params):
        ref = tasks.create()
        tasks.records[ref].update(
            status="success",
            result="<value><array><data><value>OpaqueRef:a</value></data></array></value>",
        )
        return ref

    pool.methods["Async.VM.import"] = create_done
    async with pool.client() as xapi:
        assert await xapi.call_async("VM.import") == ["OpaqueRef:a"]
