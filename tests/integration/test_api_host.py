"""host.* and pool.set against the simulated pool."""

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


def host_without_vms(xo: Xo) -> dict[str, Any]:
    """A host with no guest running on it (its VMs stopped)."""
    host = sorted(xo.find(type="host"), key=lambda h: h["name_label"])[-1]
    for vm_ref in xo.record("host", host)["resident_VMs"]:
        if not xo.db.get("VM", vm_ref)["is_control_domain"]:
            xo.db.update("VM", vm_ref, power_state="Halted", resident_on="OpaqueRef:NULL")
    return host


async def test_disable_enable_and_set(xo: Xo) -> None:
    host = xo.one(type="host")
    assert await xo.client.result("host.disable", {"id": host["id"]}) is True
    assert xo.record("host", host)["enabled"] is False
    await xo.wait(lambda: xo.objects.get(host["id"])["enabled"] is False)
    assert await xo.client.result("host.enable", {"id": host["id"]}) is True
    assert xo.record("host", host)["enabled"] is True

    params = {"id": host["id"], "name_label": "renamed", "name_description": ""}
    assert await xo.client.result("host.set", params) is True
    assert xo.record("host", host)["name_label"] == "renamed"
    await xo.wait(lambda: xo.objects.get(host["id"])["name_label"] == "renamed")
    error = await xo.client.error("host.set", {"id": host["id"], "name_label": 3})
    assert error["code"] == 10
    error = await xo.client.error("host.enable", {"id": xo.one(type="VM")["id"]})
    assert error["code"] == 1


async def test_restart_evacuates_first_and_reenables_when_that_fails(xo: Xo) -> None:
    host = host_without_vms(xo)
    before = xo.record("host", host)["other_config"].get("boot_time")
    # the host has no guest: the evacuation succeeds, the host reboots and comes back enabled
    assert await xo.client.result("host.restart", {"id": host["id"]}) is True
    record = xo.record("host", host)
    assert record["other_config"]["boot_time"] != before and record["enabled"] is True
    before = record["other_config"]["boot_time"]
    # force: the reboot goes ahead even if the evacuation fails
    assert await xo.client.result("host.restart", {"id": host["id"], "force": True}) is True
    record = xo.record("host", host)
    assert record["other_config"]["boot_time"] != before and record["enabled"] is True


async def test_stop_without_evacuation_and_restart_agent(xo: Xo) -> None:
    host = host_without_vms(xo)
    assert await xo.client.result("host.restartAgent", {"id": host["id"]}) is True
    assert "agent_start_time" in xo.record("host", host)["other_config"]
    params = {"id": host["id"], "bypassEvacuate": True}
    assert await xo.client.result("host.stop", params) is True
    assert xo.record("host", host)["enabled"] is False
    await xo.wait(lambda: xo.objects.get(host["id"])["enabled"] is False)


async def test_pool_set(xo: Xo) -> None:
    pool = xo.one(type="pool")
    network = xo.one(type="network")
    sr = xo.one(type="SR", name_label="NFS storage")
    params = {
        "id": pool["id"],
        "name_label": "lab",
        "name_description": "",
        "auto_poweron": True,
        "migrationNetwork": network["id"],
        "suspendSr": sr["id"],
    }
    assert await xo.client.result("pool.set", params) is True
    record = xo.record("pool", pool)
    assert record["name_label"] == "lab"
    assert record["other_config"]["auto_poweron"] == "true"
    assert record["other_config"]["xo:migrationNetwork"] == network["id"]
    assert record["suspend_image_SR"] == sr["_xapiRef"]
    await xo.wait(lambda: xo.objects.get(pool["id"])["name_label"] == "lab")

    await xo.client.result("pool.set", {"id": pool["id"], "migrationNetwork": None, "suspendSr": None})  # fmt: skip
    record = xo.record("pool", pool)
    assert "xo:migrationNetwork" not in record["other_config"]
    assert record["suspend_image_SR"] == "OpaqueRef:NULL"
    error = await xo.client.error("pool.set", {"id": pool["id"], "suspendSr": "nope"})
    assert error["code"] == 1
