"""PoolRecords: events rebuild exactly the objects that read the changed records."""

from __future__ import annotations

import copy
from typing import Any

from objects_factory import build_pool

from xo.objects.fields import CLASSES, FIELDS, canonical_class
from xo.objects.pool_records import PoolRecords


def mod(factory: Any, ref: str, cls: str, **changes: Any) -> dict[str, Any]:
    record = factory.get(ref)
    record.update(changes)
    return {"class": cls.lower(), "operation": "mod", "ref": ref, "snapshot": copy.deepcopy(record)}


def add(factory: Any, ref: str, cls: str) -> dict[str, Any]:
    return {
        "class": cls.lower(),
        "operation": "add",
        "ref": ref,
        "snapshot": copy.deepcopy(factory.get(ref)),
    }


def delete(ref: str, cls: str) -> dict[str, Any]:
    return {"class": cls.lower(), "operation": "del", "ref": ref}


def loaded(vms: int = 4) -> tuple[Any, dict[str, Any], PoolRecords, dict[str, dict[str, Any]]]:
    factory, names = build_pool(vms=vms, hosts=2)
    records = PoolRecords()
    objects = records.load(copy.deepcopy(factory.records))
    return factory, names, records, objects


def test_metrics_change_upserts_its_vm():
    factory, names, records, _ = loaded()
    vm_ref = names["vms"][0]
    vm_uuid = factory.get(vm_ref)["uuid"]
    metrics_ref = factory.get(vm_ref)["metrics"]
    upserts, removed = records.apply_events(
        [mod(factory, metrics_ref, "VM_metrics", memory_actual=3 << 30)]
    )
    assert set(upserts) == {vm_uuid} and removed == set()
    # the guest reports no memory: a running VM shows metrics.memory_actual
    assert upserts[vm_uuid]["memory"]["size"] == 3 << 30
    assert records.objects()[vm_uuid] is upserts[vm_uuid]


def test_guest_metrics_change_updates_addresses():
    factory, names, records, _ = loaded()
    vm_ref = names["vms"][0]
    guest_ref = factory.get(vm_ref)["guest_metrics"]
    upserts, _ = records.apply_events(
        [mod(factory, guest_ref, "VM_guest_metrics", networks={"0/ipv4/0": "192.168.1.5"})]
    )
    vm = upserts[factory.get(vm_ref)["uuid"]]
    assert vm["addresses"] == {"0/ipv4/0": "192.168.1.5"} and vm["mainIpAddress"] == "192.168.1.5"


def test_vbd_destroyed_updates_vm_and_vdi_and_exits():
    factory, names, records, _ = loaded()
    vm_ref = names["vms"][0]
    vm = factory.get(vm_ref)
    vbd_ref = vm["VBDs"][1]
    vbd_uuid = factory.get(vbd_ref)["uuid"]
    vdi_ref = factory.get(vbd_ref)["VDI"]
    vm_event = mod(factory, vm_ref, "VM", VBDs=vm["VBDs"][:1])
    vdi_event = mod(factory, vdi_ref, "VDI", VBDs=[])
    upserts, removed = records.apply_events([delete(vbd_ref, "VBD"), vm_event, vdi_event])
    assert removed == {vbd_uuid}
    assert upserts[vm["uuid"]]["$VBDs"] == [factory.get(vm["VBDs"][0])["uuid"]]
    assert upserts[factory.get(vdi_ref)["uuid"]]["$VBDs"] == []
    assert vbd_uuid not in records.objects()


def test_vbd_destroyed_alone_still_rebuilds_its_vm():
    """Even when the VM's own event has not arrived yet, its VBD change rebuilds it."""
    factory, names, records, _ = loaded()
    vm_ref = names["vms"][0]
    vbd_ref = factory.get(vm_ref)["VBDs"][0]
    upserts, removed = records.apply_events([delete(vbd_ref, "VBD")])
    assert factory.get(vm_ref)["uuid"] in upserts
    assert removed == {factory.get(vbd_ref)["uuid"]}


def test_vm_deleted_exits_with_its_dependents_untouched():
    factory, names, records, _ = loaded()
    vm_ref = names["vms"][2]
    vm_uuid = factory.get(vm_ref)["uuid"]
    upserts, removed = records.apply_events([delete(vm_ref, "VM")])
    assert removed == {vm_uuid}
    assert vm_uuid not in upserts and vm_uuid not in records.objects()
    # a second delete of the same ref is ignored
    assert records.apply_events([delete(vm_ref, "VM")]) == ({}, set())


def test_halted_vm_container_follows_its_disk_to_a_local_sr():
    factory, names, records, objects = loaded()
    vm_ref = names["vms"][1]  # halted on the shared SR
    vm_uuid = factory.get(vm_ref)["uuid"]
    pool_uuid = factory.get(names["pool"])["uuid"]
    assert objects[vm_uuid]["$container"] == pool_uuid
    vdi_ref = factory.get(factory.get(vm_ref)["VBDs"][0])["VDI"]
    local_sr = names["local_srs"][1]
    upserts, _ = records.apply_events([mod(factory, vdi_ref, "VDI", SR=local_sr)])
    assert upserts[vm_uuid]["$container"] == factory.get(names["hosts"][1])["uuid"]


def test_sr_usage_change_does_not_rebuild_vms():
    factory, names, records, _ = loaded(vms=10)
    upserts, _ = records.apply_events(
        [mod(factory, names["shared_sr"], "SR", physical_utilisation=5 << 30)]
    )
    assert [obj["type"] for obj in upserts.values()] == ["SR"]


def test_sr_becoming_local_rebuilds_its_halted_vms():
    factory, names, records, _ = loaded(vms=4)
    upserts, _ = records.apply_events([mod(factory, names["shared_sr"], "SR", shared=False)])
    halted_on_shared = factory.get(names["vms"][1])["uuid"]
    assert halted_on_shared in upserts
    first_pbd_host = factory.get(factory.get(names["shared_sr"])["PBDs"][0])["host"]
    assert upserts[halted_on_shared]["$container"] == factory.get(first_pbd_host)["uuid"]


def test_task_arriving_after_the_vm_fills_current_operations():
    factory, names, records, _ = loaded()
    vm_ref = names["vms"][0]
    task_ref = factory.add(
        "task",
        {
            "name_label": "Async.VM.clean_reboot",
            "status": "pending",
            "progress": 0.0,
            "other_config": {},
        },
    )
    upserts, _ = records.apply_events(
        [mod(factory, vm_ref, "VM", current_operations={task_ref: "clean_reboot"})]
    )
    vm_uuid = factory.get(vm_ref)["uuid"]
    assert upserts[vm_uuid]["current_operations"] == {}  # task not known yet
    upserts, _ = records.apply_events([add(factory, task_ref, "task")])
    task_uuid = factory.get(task_ref)["uuid"]
    assert upserts[vm_uuid]["current_operations"] == {task_uuid: "clean_reboot"}
    assert upserts[task_uuid]["type"] == "task"


def test_host_metrics_and_master_name_dependencies():
    factory, names, records, _ = loaded()
    host_ref = names["hosts"][0]
    host_uuid = factory.get(host_ref)["uuid"]
    upserts, _ = records.apply_events(
        [mod(factory, factory.get(host_ref)["metrics"], "host_metrics", live=False)]
    )
    assert upserts[host_uuid]["power_state"] == "Halted"
    factory.get(names["pool"])["name_label"] = ""
    records.apply_events([mod(factory, names["pool"], "pool")])
    upserts, _ = records.apply_events([mod(factory, host_ref, "host", name_label="renamed")])
    pool_uuid = factory.get(names["pool"])["uuid"]
    assert upserts[pool_uuid]["name_label"] == "renamed"


def test_template_becoming_custom_changes_id():
    factory, names = build_pool(vms=0, hosts=1)
    tpl = factory.vm(
        "T",
        host=None,
        sr=names["shared_sr"],
        network=names["network"],
        disks=0,
        template=True,
        default=True,
    )
    records = PoolRecords()
    objects = records.load(copy.deepcopy(factory.records))
    pool_uuid = factory.get(names["pool"])["uuid"]
    uuid = factory.get(tpl)["uuid"]
    assert f"{pool_uuid}-{uuid}" in objects
    other_config = {**factory.get(tpl)["other_config"], "default_template": "false"}
    upserts, removed = records.apply_events(
        [mod(factory, tpl, "VM", is_default_template=False, other_config=other_config)]
    )
    assert removed == {f"{pool_uuid}-{uuid}"} and uuid in upserts
    assert records.id_of(tpl) == uuid


def test_event_classes_are_lowercase_and_unknown_ones_ignored():
    factory, names, records, _ = loaded()
    events = [
        {"class": "vm_guest_metrics", "operation": "mod", "ref": "OpaqueRef:x", "snapshot": {}},
        {"class": "console", "operation": "add", "ref": "OpaqueRef:c", "snapshot": {"uuid": "c"}},
        {"class": "vm", "operation": "mod", "ref": names["vms"][0]},  # no snapshot: ignored
        {"operation": "mod"},
    ]
    assert records.apply_events(events) == ({}, set())
    assert canonical_class("vm_guest_metrics") == "VM_guest_metrics"
    assert canonical_class("sr") == "SR" and canonical_class("pbd") == "PBD"
    assert canonical_class("console") is None
    assert set(CLASSES) <= set(FIELDS)


def test_new_vm_with_disks_in_one_batch():
    factory, names, records, _ = loaded(vms=0)
    vm_ref = factory.vm(
        "new", host=names["hosts"][0], sr=names["shared_sr"], network=names["network"], disks=1
    )
    vm = factory.get(vm_ref)
    vbd = vm["VBDs"][0]
    refs = [
        (vm_ref, "VM"),
        (vm["metrics"], "VM_metrics"),
        (vm["guest_metrics"], "VM_guest_metrics"),
        (vbd, "VBD"),
        (factory.get(vbd)["VDI"], "VDI"),
        (vm["VIFs"][0], "VIF"),
    ]
    upserts, removed = records.apply_events([add(factory, ref, cls) for ref, cls in refs])
    assert removed == set()
    assert upserts[vm["uuid"]]["$VBDs"] == [factory.get(vbd)["uuid"]]
    assert upserts[vm["uuid"]]["$container"] == factory.get(names["hosts"][0])["uuid"]
    assert {o["type"] for o in upserts.values()} >= {"VM", "VBD", "VDI", "VIF"}


def test_reload_after_events_equals_fresh_load():
    factory, names, records, _ = loaded(vms=6)
    gone = names["vms"][3]
    gone_vm = factory.get(gone)
    events = [
        mod(
            factory,
            names["vms"][0],
            "VM",
            name_label="changed",
            power_state="Halted",
            resident_on="OpaqueRef:NULL",
        ),
        mod(factory, factory.get(names["vms"][2])["metrics"], "VM_metrics", VCPUs_number=1),
        delete(gone, "VM"),
    ]
    # as xapi does on VM.destroy: its VBDs and VIFs go, their VDIs and network change
    for vbd in gone_vm["VBDs"]:
        vdi = factory.get(vbd)["VDI"]
        events.append(delete(vbd, "VBD"))
        events.append(mod(factory, vdi, "VDI", VBDs=[]))
        del factory.records["VBD"][vbd]
    for vif in gone_vm["VIFs"]:
        network = factory.get(vif)["network"]
        events.append(delete(vif, "VIF"))
        vifs = [v for v in factory.get(network)["VIFs"] if v != vif]
        events.append(mod(factory, network, "network", VIFs=vifs))
        del factory.records["VIF"][vif]
    del factory.records["VM"][gone]
    records.apply_events(events)
    fresh = PoolRecords().load(copy.deepcopy(factory.records))
    assert records.objects() == fresh
    assert records.pool_id == factory.get(names["pool"])["uuid"]
