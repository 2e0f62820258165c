"""vm.clone / vm.copy / vm.snapshot / vm.revert / vm.delete / vm.convertToTemplate against the
simulated pool: new objects are answered with their id once clients can use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from xo_harness import Xo, open_xo

from xo.sim.serve import RunningPool

UUID_LENGTH = 36


@pytest.fixture
async def xo(sim_pool: RunningPool, tmp_path: Path) -> AsyncIterator[Xo]:
    async with open_xo(sim_pool, tmp_path) as harness:
        yield harness


def disk_refs(xo: Xo, vm: dict[str, Any]) -> list[str]:
    vbds = [xo.db.get("VBD", ref) for ref in xo.record("VM", vm)["VBDs"]]
    return [v["VDI"] for v in vbds if v["type"] == "Disk" and v["VDI"] != "OpaqueRef:NULL"]


async def test_clone_answers_a_usable_id(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Halted")
    clone_id = await xo.client.result(
        "vm.clone", {"id": vm["id"], "name": "clone of it", "full_copy": False}
    )
    assert isinstance(clone_id, str) and len(clone_id) == UUID_LENGTH
    clone = xo.objects.get(clone_id)  # already in the store when the answer arrives
    assert clone["type"] == "VM" and clone["name_label"] == "clone of it"
    assert len(disk_refs(xo, clone)) == len(disk_refs(xo, vm))
    assert set(disk_refs(xo, clone)).isdisjoint(disk_refs(xo, vm))
    assert await xo.client.result("vm.start", {"id": clone_id}) is True


async def test_full_copy_of_a_running_vm_and_copy_to_an_sr(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    copy_id = await xo.client.result(
        "vm.clone", {"id": vm["id"], "name": "full", "full_copy": True}
    )
    copy = xo.objects.get(copy_id)
    assert copy["type"] == "VM" and copy["power_state"] == "Halted"
    # the temporary snapshot used to copy a running VM is gone
    assert xo.record("VM", vm)["snapshots"] == xo.db.get("VM", vm["_xapiRef"])["snapshots"]
    assert not [o for o in xo.find(type="VM-snapshot") if o["name_label"] == "full"]

    sr = xo.one(type="SR", name_label="NFS storage")
    copied_id = await xo.client.result("vm.copy", {"vm": vm["id"], "sr": sr["id"], "name": "nfs"})
    copied = xo.objects.get(copied_id)
    assert copied["name_label"] == "nfs"
    assert {xo.db.get("VDI", ref)["SR"] for ref in disk_refs(xo, copied)} == {sr["_xapiRef"]}


async def test_snapshot_revert_and_delete(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    snapshot_id = await xo.client.result(
        "vm.snapshot", {"id": vm["id"], "name": "before upgrade", "description": "safe point"}
    )
    snapshot = xo.objects.get(snapshot_id)
    assert snapshot["type"] == "VM-snapshot" and snapshot["$snapshot_of"] == vm["id"]
    assert snapshot["name_description"] == "safe point"
    await xo.wait(lambda: snapshot_id in xo.objects.get(vm["id"])["snapshots"])

    default_name = await xo.client.result("vm.snapshot", {"id": vm["id"]})
    assert xo.objects.get(default_name)["name_label"].startswith(vm["name_label"] + "_20")

    await xo.client.result("vm.stop", {"id": vm["id"], "force": True})
    await xo.client.result("vm.revert", {"snapshot": snapshot_id})
    assert xo.record("VM", vm)["power_state"] == "Running"  # it was running at snapshot time

    disks = disk_refs(xo, snapshot)
    assert await xo.client.result("vm.delete", {"id": snapshot_id}) is True
    assert not xo.db.exists("VM", snapshot["_xapiRef"])
    assert not any(xo.db.exists("VDI", ref) for ref in disks)
    await xo.wait(lambda: xo.objects.get(snapshot_id) is None)


async def test_delete_takes_disks_and_snapshots_unless_told_otherwise(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Running")
    snapshot_id = await xo.client.result("vm.snapshot", {"id": vm["id"], "name": "s"})
    disks = disk_refs(xo, vm)
    assert await xo.client.result("vm.delete", {"id": vm["id"]}) is True  # hard-shut-down first
    assert not xo.db.exists("VM", vm["_xapiRef"])
    assert not any(xo.db.exists("VDI", ref) for ref in disks)
    assert xo.db.find_by_uuid("VM", snapshot_id) is None
    await xo.wait(lambda: xo.objects.get(vm["id"]) is None)

    other = xo.one(type="VM", power_state="Halted")
    kept = disk_refs(xo, other)
    await xo.client.result("vm.delete", {"id": other["id"], "deleteDisks": False})
    assert kept and all(xo.db.exists("VDI", ref) for ref in kept)


async def test_protected_vms_and_default_templates(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Halted")
    xo.db.update("VM", vm["_xapiRef"], blocked_operations={"destroy": "true"})
    await xo.wait(lambda: xo.objects.get(vm["id"])["blockedOperations"])
    error = await xo.client.error("vm.delete", {"id": vm["id"]})
    assert error["code"] == 5
    assert error["message"] == (
        "forbidden operation: destroy is blocked: protected from accidental deletion"
    )
    await xo.client.result("vm.delete", {"id": vm["id"], "forceBlockedOperation": True})
    assert not xo.db.exists("VM", vm["_xapiRef"])

    template = next(t for t in xo.find(type="VM-template") if t.get("isDefaultTemplate"))
    error = await xo.client.error("vm.delete", {"id": template["id"]})
    assert error == {
        "message": "incorrect state",
        "code": 25,
        "data": {
            "actual": True,
            "expected": False,
            "object": template["id"],
            "property": "isDefaultTemplate",
        },
    }


async def test_convert_to_template(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Halted")
    assert await xo.client.result("vm.convert", {"id": vm["id"]}) is True
    assert xo.record("VM", vm)["is_a_template"] is True
    await xo.wait(lambda: xo.objects.get(vm["id"])["type"] == "VM-template")
    running = xo.one(type="VM", power_state="Running")
    error = await xo.client.error("vm.convertToTemplate", {"id": running["id"]})
    assert error["code"] == 13


async def test_delete_drops_the_acls_granted_on_the_vm(xo: Xo) -> None:
    vm, other = xo.find(type="VM", power_state="Halted")[:2]
    user = await xo.client.result("user.create", {"email": "op@example.net", "password": "pw"})
    for target in (vm, other):
        await xo.client.result(
            "acl.add", {"subject": user, "object": target["id"], "action": "operator"}
        )
    await xo.client.result("vm.delete", {"id": vm["id"]})
    remaining = {(a["subject"], a["object"]) for a in await xo.client.result("acl.get")}
    assert remaining == {(user, other["id"])}
