"""task.cancel / task.destroy on XAPI tasks, seen as XO ``task`` objects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from xo_harness import Xo, open_xo

from xo.sim.serve import RunningPool


@pytest.fixture
async def xo(sim_pool: RunningPool, tmp_path: Path) -> AsyncIterator[Xo]:
    async with open_xo(sim_pool, tmp_path) as harness:
        yield harness


async def test_cancel_then_destroy_a_task(xo: Xo) -> None:
    ref = xo.pool.pool.tasks.create("long job", description="made by a test")
    task = await xo.wait(lambda: xo.objects.get_by_ref(ref))
    assert task["type"] == "task" and task["status"] == "pending"

    assert await xo.client.result("task.cancel", {"id": task["id"]}) is True
    assert xo.db.get("task", ref)["status"] == "cancelling"
    await xo.wait(lambda: xo.objects.get(task["id"])["status"] == "cancelling")
    error = await xo.client.error("task.cancel", {"id": task["id"]})
    assert error["code"] == -32000 and error["data"]["code"] == "OPERATION_NOT_ALLOWED"

    assert await xo.client.result("task.destroy", {"id": task["id"]}) is True
    assert not xo.db.exists("task", ref)
    await xo.wait(lambda: xo.objects.get(task["id"]) is None)
    error = await xo.client.error("task.destroy", {"id": task["id"]})
    assert error["code"] == 1
