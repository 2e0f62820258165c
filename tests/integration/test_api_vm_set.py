"""vm.set: the XAPI calls planned for XO's properties (pure), and their effect on the pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from xo_harness import Xo, open_xo

from xo.api.errors import XoApiError
from xo.api.sizes import parse_size
from xo.api.vm_edit import XapiCall, plan_vm_edit
from xo.sim.serve import RunningPool

GiB = 1 << 30
HALTED = {
    "uuid": "0123456789abcdef",
    "power_state": "Halted",
    "VCPUs_max": 2,
    "VCPUs_at_startup": 2,
    "memory_static_min": GiB // 2,
    "memory_static_max": 4 * GiB,
    "memory_dynamic_min": 2 * GiB,
    "memory_dynamic_max": 4 * GiB,
    "other_config": {},
}


def plan(changes: dict, record: dict = HALTED) -> list[tuple]:
    return [(c.method, *c.params[1:]) for c in plan_vm_edit(record, changes, vm_ref="R")]


def test_sizes_as_xo_parses_them() -> None:
    assert parse_size(5) == 5
    assert parse_size("2 GiB") == 2 * GiB
    assert parse_size("512Mi") == 512 << 20
    assert parse_size("1GB") == 10**9
    assert parse_size("1.5 GiB") == 3 * GiB // 2
    with pytest.raises(XoApiError) as error:
        parse_size("lots")
    assert error.value.code == 10


def test_constraints_are_satisfied_first() -> None:
    # more CPUs than VCPUs_max: the max goes up first, to the same value
    assert plan({"CPUs": 4}) == [("VM.set_VCPUs_max", 4), ("VM.set_VCPUs_at_startup", 4)]
    # ... or to the cpusMax given in the same call
    assert plan({"CPUs": 4, "cpusMax": 8})[:2] == [
        ("VM.set_VCPUs_max", 8),
        ("VM.set_VCPUs_at_startup", 4),
    ]
    # lowering the max below the current CPUs lowers them first
    assert plan({"cpusMax": 1}) == [("VM.set_VCPUs_at_startup", 1), ("VM.set_VCPUs_max", 1)]
    # unchanged values are skipped
    assert plan({"CPUs": 2, "cpusMax": 2}) == []


def test_memory_of_a_halted_and_of_a_running_vm() -> None:
    calls = plan_vm_edit(HALTED, {"memoryMax": "1 GiB"}, vm_ref="R")
    assert calls == [
        XapiCall(
            "VM.set_memory_limits",
            ("R", GiB // 2, 4 * GiB, GiB, GiB),
            fallback=XapiCall("VM.set_memory_limits", ("R", GiB // 2, GiB, GiB, GiB)),
        )
    ]
    running = {**HALTED, "power_state": "Running"}
    (call,) = plan_vm_edit(running, {"memoryMax": 3 * GiB}, vm_ref="R")
    assert call.method == "VM.set_memory_dynamic_range" and call.params == ("R", 2 * GiB, 3 * GiB)
    assert call.refusal
    # a VM without ballooning gets all its limits at once
    fixed = {**HALTED, "memory_dynamic_min": 4 * GiB}
    assert plan({"memory": "8 GiB"}, fixed) == [
        ("VM.set_memory_limits", GiB // 2, 8 * GiB, 8 * GiB, 8 * GiB)
    ]


def test_map_entries_and_checks() -> None:
    assert plan({"coresPerSocket": 2, "notes": None}) == [
        ("VM.remove_from_platform", "cores-per-socket"),
        ("VM.add_to_platform", "cores-per-socket", "2"),
        ("VM.remove_from_other_config", "xo:notes"),
    ]
    assert plan({"xenStoreData": {"vm-data/a": "1"}})[-1] == (
        "VM.add_to_xenstore_data",
        "vm-data/a",
        "1",
    )
    for bad in ({"vga": "svga"}, {"videoram": 3}, {"xenStoreData": {"../x": "1"}}):
        with pytest.raises(XoApiError) as error:
            plan(bad)
        assert error.value.code == 10


@pytest.fixture
async def xo(sim_pool: RunningPool, tmp_path: Path) -> AsyncIterator[Xo]:
    async with open_xo(sim_pool, tmp_path) as harness:
        yield harness


async def test_set_changes_the_vm(xo: Xo) -> None:
    vm = xo.one(type="VM", name_label="web-03")  # Halted, 4 vCPUs (max 4), 8 GiB fixed
    params = {
        "id": vm["id"],
        "name_label": "web-3",
        "name_description": "",
        "CPUs": 6,
        "memory": "4 GiB",
        "auto_poweron": True,
        "notes": "hello",
        "coresPerSocket": 2,
        "blockedOperations": {"destroy": True},
        "high_availability": "restart",
    }
    assert await xo.client.result("vm.set", params) is True
    record = xo.record("VM", vm)
    assert record["name_label"] == "web-3" and record["name_description"] == ""
    assert (record["VCPUs_at_startup"], record["VCPUs_max"]) == (6, 6)
    assert record["memory_static_max"] == record["memory_dynamic_max"] == 4 * GiB
    assert record["other_config"]["auto_poweron"] == "true"
    assert record["other_config"]["xo:notes"] == "hello"
    assert record["platform"]["cores-per-socket"] == "2"
    assert record["blocked_operations"] == {"destroy": "true"}
    assert record["ha_restart_priority"] == "restart"
    assert xo.db.get("pool", xo.one(type="pool")["_xapiRef"])["other_config"]["auto_poweron"]
    # vm.set makes several XAPI calls; their events may reach the store in different batches.
    obj = await xo.wait(
        lambda: (o := xo.objects.get(vm["id"]))["name_label"] == "web-3"
        and o.get("notes") == "hello"
        and o["CPUs"] == {"max": 6, "number": 6}
        and o
    )
    assert obj["memory"]["static"][1] == 4 * GiB


async def test_set_on_a_running_vm_and_errors(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    record = xo.record("VM", vm)
    await xo.client.result("vm.set", {"id": vm["id"], "CPUs": record["VCPUs_max"] - 1})
    assert xo.record("VM", vm)["VCPUs_at_startup"] == record["VCPUs_max"] - 1  # live
    # memory of a running VM: the dynamic range moves within the static one (balloon)
    half = record["memory_static_max"] // 2
    await xo.client.result("vm.set", {"id": vm["id"], "memoryMax": half})
    assert xo.record("VM", vm)["memory_dynamic_max"] == half
    error = await xo.client.error("vm.set", {"id": vm["id"], "memoryMax": 2 * record["memory_static_max"]})  # fmt: skip
    assert error["code"] == 10
    assert xo.record("VM", vm)["memory_dynamic_max"] == half
    error = await xo.client.error("vm.set", {"id": vm["id"], "vga": "svga"})
    assert error["code"] == 10 and error["message"] == "vga must be one of std, cirrus"
    error = await xo.client.error("vm.set", {"id": vm["id"], "name_label": ""})
    assert error["code"] == 10 and error["data"]["errors"][0]["keyword"] == "minLength"
    error = await xo.client.error("vm.set", {"id": vm["id"], "resourceSet": "x"})
    assert error["code"] == 0  # no resource sets here
    template = xo.one(type="VM-template")
    await xo.client.result("vm.set", {"id": template["id"], "name_description": "tpl"})
    assert xo.record("VM", template)["name_description"] == "tpl"
