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


async def test_migrate_goes_through_the_pools_migration_network_when_set(xo: Xo) -> None:
    pool = xo.one(type="pool")
    network = xo.one(type="network")
    await xo.client.result("pool.set", {"id": pool["id"], "migrationNetwork": network["id"]})
    await xo.wait(
        lambda: (
            xo.objects.get(pool["id"])["otherConfig"].get("xo:migrationNetwork") == network["id"]
        )
    )
    vm = xo.one(type="VM", power_state="Halted")
    hosts = sorted(h["id"] for h in xo.find(type="host"))
    await xo.client.result("vm.start", {"id": vm["id"], "host": hosts[1]})
    await xo.client.result("vm.migrate", {"vm": vm["id"], "targetHost": hosts[2]})
    assert xo.db.get("host", xo.record("VM", vm)["resident_on"])["uuid"] == hosts[2]


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


async def test_suspend_then_start_resumes_and_pause_then_start_unpauses(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    await xo.client.result("vm.suspend", {"id": vm["id"]})
    assert xo.record("VM", vm)["power_state"] == "Suspended"
    await xo.client.result("vm.start", {"id": vm["id"]})  # XO: start resumes a suspended VM
    assert xo.record("VM", vm)["power_state"] == "Running"

    await xo.client.result("vm.pause", {"id": vm["id"]})
    assert xo.record("VM", vm)["power_state"] == "Paused"
    await xo.wait(power_state_is(xo, vm, "Paused"))
    await xo.client.result("vm.start", {"id": vm["id"]})  # ...and unpauses a paused one
    assert xo.record("VM", vm)["power_state"] == "Running"

    await xo.client.result("vm.pause", {"id": vm["id"]})
    await xo.client.result("vm.unpause", {"id": vm["id"]})
    assert xo.record("VM", vm)["power_state"] == "Running"
    await xo.client.result("vm.suspend", {"id": vm["id"]})
    await xo.client.result("vm.resume", {"id": vm["id"]})
    assert xo.record("VM", vm)["power_state"] == "Running"


async def test_restart_and_forced_stop(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    await xo.client.result("vm.restart", {"id": vm["id"]})
    await xo.client.result("vm.restart", {"id": vm["id"], "force": True})
    assert xo.record("VM", vm)["power_state"] == "Running"
    await xo.client.result("vm.stop", {"id": vm["id"], "force": True})
    assert xo.record("VM", vm)["power_state"] == "Halted"


async def test_blocked_shutdown_needs_force_and_stays_blocked(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    xo.db.update("VM", vm["_xapiRef"], blocked_operations={"clean_shutdown": "maintenance"})
    await xo.wait(lambda: xo.objects.get(vm["id"])["blockedOperations"])
    error = await xo.client.error("vm.stop", {"id": vm["id"]})
    assert error["code"] == 19 and error["data"]["objectId"] == vm["id"]  # OPERATION_BLOCKED
    assert xo.record("VM", vm)["power_state"] == "Running"

    params = {"id": vm["id"], "bypassBlockedOperation": True}
    assert await xo.client.result("vm.stop", params) is True
    record = xo.record("VM", vm)
    assert record["power_state"] == "Halted"
    assert record["blocked_operations"] == {"clean_shutdown": "maintenance"}  # put back


async def test_duplicate_mac_addresses_refuse_to_start_unless_bypassed(xo: Xo) -> None:
    running = xo.one(type="VM", power_state="Running")
    halted = xo.one(type="VM", power_state="Halted")
    mac = xo.objects.get(running["VIFs"][0])["MAC"]
    xo.db.update("VIF", xo.objects.get(halted["VIFs"][0])["_xapiRef"], MAC=mac)
    await xo.wait(lambda: xo.objects.get(halted["VIFs"][0])["MAC"] == mac)
    error = await xo.client.error("vm.start", {"id": halted["id"]})
    assert error == {
        "message": "operation failed",
        "code": 21,
        "data": {"objectId": halted["id"], "code": "DUPLICATED_MAC_ADDRESS"},
    }
    params = {"id": halted["id"], "bypassMacAddressesCheck": True}
    assert await xo.client.result("vm.start", params) is True


async def test_a_read_only_server_refuses_writes(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Halted")
    await xo.client.result("server.disable", {"id": xo.server_id})
    await xo.client.result("server.set", {"id": xo.server_id, "readOnly": True})
    await xo.client.result("server.enable", {"id": xo.server_id})
    await xo.wait(lambda: xo.objects.get(vm["id"]))
    error = await xo.client.error("vm.start", {"id": vm["id"]})
    assert error["code"] == 5 and error["message"] == "forbidden operation: vm.start"
    assert "read-only" in error["data"]["reason"]
    assert xo.record("VM", vm)["power_state"] == "Halted"
    objects = await xo.client.result("xo.getAllObjects", {"filter": {"id": vm["id"]}})
    assert list(objects) == [vm["id"]]  # reading still works
