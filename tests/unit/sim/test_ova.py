"""Model side of XVA export/import: ova.xml objects out, the same VM back in, clean roll-back."""

from __future__ import annotations

import pytest
from sim_client import find_vm

from xo.formats.xmlrpc import encode_value, parse_value_fragment
from xo.sim.errors import XapiFailure
from xo.sim.scenario import build_world


def _counts(pool) -> dict[str, int]:  # noqa: ANN001
    return {cls: len(rows) for cls, rows in pool.db.tables.items()}


def test_export_objects_rewrites_refs() -> None:
    pool = build_world(vms=6, seed=3).pools[0]
    vm = find_vm(pool, "Halted")
    objects, disks = pool.export_objects(vm)
    classes = [o["class"] for o in objects]
    assert classes[0] == "VM" and "VBD" in classes and "VDI" in classes and "VIF" in classes
    assert {o["id"] for o in objects} == {f"Ref:{n}" for n in range(len(objects))}
    text = encode_value(objects)
    assert "OpaqueRef:" not in text.replace("OpaqueRef:NULL", "")
    vm_obj = objects[0]["snapshot"]
    vbd_ids = {o["id"] for o in objects if o["class"] == "VBD"}
    assert set(vm_obj["VBDs"]) == vbd_ids
    assert [ova_id for ova_id, _ in disks] == [o["id"] for o in objects if o["class"] == "VDI"]
    assert all(pool.db.get("VDI", ref)["type"] != "iso" for _, ref in disks)


def test_running_vm_cannot_be_exported() -> None:
    pool = build_world(vms=6, seed=3).pools[0]
    vm = find_vm(pool, "Running")
    with pytest.raises(XapiFailure) as error:
        pool.check_export_allowed(vm)
    assert error.value.code == "VM_BAD_POWER_STATE"


def test_import_what_was_exported_then_roll_back() -> None:
    source = build_world(vms=6, seed=3).pools[0]
    target = build_world(vms=2, seed=9).pools[0]
    vm = find_vm(source, "Halted")
    objects, disks = source.export_objects(vm)
    decoded = parse_value_fragment(encode_value({"objects": objects}))["objects"]  # as ova.xml carries them
    before = _counts(target)
    sr = target.db.get("pool", target.pool_ref)["default_SR"]
    task = target.task_create("import", "", host_ref=target.master_ref)
    vm_refs, vdis, created = target.import_ova(decoded, sr, task)
    assert len(vm_refs) == 1
    new = target.db.get("VM", vm_refs[0])
    original = source.db.get("VM", vm)
    assert new["name_label"] == original["name_label"] and new["uuid"] != original["uuid"]
    assert new["memory_static_max"] == original["memory_static_max"]
    assert new["current_operations"] == {task: "import"}
    assert len(new["VBDs"]) == len(original["VBDs"]) and len(new["VIFs"]) == len(original["VIFs"])
    assert set(vdis) == {ova_id for ova_id, _ in disks}
    for ova_id, src_vdi in disks:
        assert target.disks.size(vdis[ova_id]) == source.disks.size(src_vdi)
        assert target.db.get("VDI", vdis[ova_id])["SR"] == sr
    target.task_complete(task, encode_value(vm_refs))
    assert target.db.get("VM", vm_refs[0])["current_operations"] == {}
    target.destroy_created(created)
    assert _counts(target) == {**before, "task": before["task"] + 1}


def test_import_without_a_vm_is_refused_and_leaves_nothing() -> None:
    pool = build_world(vms=2, seed=9).pools[0]
    before = _counts(pool)
    sr = pool.db.get("pool", pool.pool_ref)["default_SR"]
    with pytest.raises(XapiFailure) as error:
        pool.import_ova([{"class": "VDI", "id": "Ref:0", "snapshot": {"virtual_size": "1048576"}}], sr, "OpaqueRef:NULL")
    assert error.value.code == "IMPORT_ERROR"
    assert _counts(pool) == before
