"""VM memory limits (xapi's order constraint and power states) and host power on / shutdown."""

from __future__ import annotations

import pytest
from sim_client import Client, find_vm

from xo.sim.errors import XapiFailure

GiB = 1 << 30
ORDER = "Memory limits must satisfy: static_min \u2264 dynamic_min \u2264 dynamic_max \u2264 static_max"


def _limits(xapi: Client, vm: str) -> tuple[int, int, int, int]:
    rec = xapi.pool.db.get("VM", vm)
    return (rec["memory_static_min"], rec["memory_dynamic_min"], rec["memory_dynamic_max"], rec["memory_static_max"])  # fmt: skip


async def test_limits_and_static_range_of_a_halted_vm(xapi: Client) -> None:
    vm = find_vm(xapi.pool, "Halted")
    await xapi("VM.set_memory_limits", vm, GiB, 8 * GiB, 2 * GiB, 4 * GiB)
    assert _limits(xapi, vm) == (GiB, 2 * GiB, 4 * GiB, 8 * GiB)
    await xapi("VM.set_memory_static_range", vm, GiB // 2, 6 * GiB)
    assert _limits(xapi, vm) == (GiB // 2, 2 * GiB, 4 * GiB, 6 * GiB)
    await xapi("VM.set_memory_static_max", vm, 5 * GiB)
    assert _limits(xapi, vm)[3] == 5 * GiB
    for call in (
        ("VM.set_memory_limits", vm, GiB, 2 * GiB, 4 * GiB, 3 * GiB),  # dynamic_max > static_max
        ("VM.set_memory_static_range", vm, 3 * GiB, 8 * GiB),  # static_min > dynamic_min
        ("VM.set_memory_static_max", vm, 3 * GiB),
    ):
        with pytest.raises(XapiFailure) as failure:
            await xapi(*call)
        assert failure.value.description == ["MEMORY_CONSTRAINT_VIOLATION", ORDER]
    assert _limits(xapi, vm) == (GiB // 2, 2 * GiB, 4 * GiB, 5 * GiB)  # unchanged by failures


async def test_dynamic_range_of_a_running_vm_moves_the_balloon(xapi: Client) -> None:
    db = xapi.pool.db
    vm = find_vm(xapi.pool, "Running")
    static_min, _, _, static_max = _limits(xapi, vm)
    low = max(static_min, static_max // 4)
    await xapi("VM.set_memory_dynamic_range", vm, low, static_max // 2)
    assert _limits(xapi, vm) == (static_min, low, static_max // 2, static_max)
    assert db.get("VM_metrics", db.get("VM", vm)["metrics"])["memory_actual"] == static_max // 2
    with pytest.raises(XapiFailure) as failure:
        await xapi("VM.set_memory_dynamic_range", vm, low, static_max + 1)
    assert failure.value.code == "MEMORY_CONSTRAINT_VIOLATION"
    # static limits need a halted VM
    with pytest.raises(XapiFailure) as failure:
        await xapi("VM.set_memory_limits", vm, static_min, static_max, low, static_max)
    assert failure.value.description == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    with pytest.raises(XapiFailure) as failure:
        await xapi("VM.set_memory_static_range", vm, static_min, static_max)
    assert failure.value.code == "VM_BAD_POWER_STATE"


async def test_shutdown_then_power_on_brings_the_host_back(xapi: Client) -> None:
    db = xapi.pool.db
    host = xapi.pool.host_refs[1]
    metrics = db.get("host", host)["metrics"]
    for vm in db.get("host", host)["resident_VMs"]:
        if not db.get("VM", vm)["is_control_domain"]:
            await xapi("VM.hard_shutdown", vm)
    with pytest.raises(XapiFailure) as failure:
        await xapi("host.power_on", host)
    assert failure.value.description == ["HOST_IS_LIVE", host]
    await xapi("host.disable", host)
    await xapi("host.shutdown", host)
    assert db.get("host_metrics", metrics)["live"] is False
    assert host in xapi.pool.faults.host_down  # the network layer closes its listener
    assert db.get("host", host)["enabled"] is False
    await xapi("host.power_on", host)
    assert db.get("host_metrics", metrics)["live"] is True
    assert db.get("host", host)["enabled"] is True
    assert host not in xapi.pool.faults.host_down
    db.update("host", host, power_on_mode="")
    await xapi("host.disable", host)
    await xapi("host.shutdown", host)
    with pytest.raises(XapiFailure) as failure:
        await xapi("host.power_on", host)
    assert failure.value.description == ["HOST_POWER_ON_MODE_DISABLED"]
