"""vm.* power operations and migration over real sockets: XO frames in, the simulated pool
changes, the ObjectStore follows through events, XAPI errors arrive as XO's codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from xo_harness import Xo, open_xo

from xo.sim.serve import RunningPool


@pytest.fixture
async def xo(sim_pool: RunningPool, tmp_path: Path) -> AsyncIterator[Xo]:
    async with open_xo(sim_pool, tmp_path) as harness:
        yield harness


def power_state_is(xo: Xo, vm: dict[str, Any], state: str) -> Any:
    return lambda: xo.objects.get(vm["id"])["power_state"] == state


async def test_start_stop_cycle_changes_the_pool_and_the_objects(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Halted")
    assert await xo.client.result("vm.start", {"id": vm["id"]}) is True
    assert xo.record("VM", vm)["power_state"] == "Running"  # done when the call returns
    await xo.wait(power_state_is(xo, vm, "Running"))
    assert xo.objects.get(vm["id"])["$container"] != vm["$pool"]  # resident on a host

    assert await xo.client.result("vm.stop", {"id": vm["id"]}) is True  # clean shutdown
    assert xo.record("VM", vm)["power_state"] == "Halted"
    await xo.wait(power_state_is(xo, vm, "Halted"))


async def test_start_on_a_host_and_migrate_within_the_pool(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Halted")
    hosts = sorted(h["id"] for h in xo.find(type="host"))
    await xo.client.result("vm.start", {"id": vm["id"], "host": hosts[1]})
    resident = xo.db.get("VM", vm["_xapiRef"])["resident_on"]
    assert xo.db.get("host", resident)["uuid"] == hosts[1]

    await xo.client.result("vm.migrate", {"vm": vm["id"], "targetHost": hosts[2]})
    resident = xo.record("VM", vm)["resident_on"]
    assert xo.db.get("host", resident)["uuid"] == hosts[2]
    await xo.wait(lambda: xo.objects.get(vm["id"])["$container"] == hosts[2])


async def test_bad_power_state_is_code_13_with_xo_ids(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    error = await xo.client.error("vm.start", {"id": vm["id"]})
    assert error == {
        "message": "VM state is running but should be halted",
        "code": 13,
        "data": {"objectId": vm["id"], "expected": "halted", "actual": "running"},
    }
    halted = xo.one(type="VM", power_state="Halted")
    error = await xo.client.error("vm.suspend", {"id": halted["id"]})
    assert error["code"] == 13 and error["data"]["objectId"] == halted["id"]


async def test_unknown_ids_and_bad_params(xo: Xo) -> None:
    assert await xo.client.error("vm.start", {"id": "nope"}) == {
        "message": "no such VM nope",
        "code": 1,
        "data": {"id": "nope", "type": "VM"},
    }
    template = xo.one(type="VM-template")
    error = await xo.client.error("vm.start", {"id": template["id"]})
    assert error["code"] == 1  # a template is not a VM
    error = await xo.client.error("vm.stop", {"id": xo.one(type="VM")["id"], "force": "yes"})
    assert error["code"] == 10
    assert error["data"]["errors"][0]["instancePath"] == "/force"
    error = await xo.client.error("vm.start", {"id": xo.one(type="VM")["id"], "bogus": 1})
    assert error["code"] == 10
