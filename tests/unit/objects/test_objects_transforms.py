"""Transforms on realistic records, hand-checked against xo-api.md section 5 and XO's code."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from objects_factory import NULL, build_pool

from xo.objects.guest_networks import main_ip_address, normalize_addresses
from xo.objects.pool_records import PoolRecords
from xo.objects.timestamps import to_timestamp


def load(factory: Any) -> dict[str, dict[str, Any]]:
    # records go through JSON like a JSON-RPC get_all_records answer
    return PoolRecords().load(orjson.loads(orjson.dumps(factory.records)))


@pytest.fixture
def world() -> tuple[Any, dict[str, Any], dict[str, dict[str, Any]]]:
    factory, names = build_pool(vms=6, hosts=2)
    return factory, names, load(factory)


def test_running_vm_has_xo_fields_and_types(world):
    factory, names, objects = world
    raw = factory.get(names["vms"][0])
    vm = objects[raw["uuid"]]
    pool_uuid = factory.get(names["pool"])["uuid"]
    host_uuid = factory.get(names["hosts"][0])["uuid"]
    assert vm["type"] == "VM"
    assert vm["id"] == vm["uuid"] == raw["uuid"]
    assert vm["$pool"] == vm["$poolId"] == pool_uuid
    assert vm["_xapiRef"] == names["vms"][0]
    assert vm["name_label"] == "vm-0"
    assert vm["power_state"] == "Running"
    assert vm["CPUs"] == {"max": 4, "number": 2}
    assert vm["memory"] == {
        "dynamic": [2 << 30, 2 << 30],
        "static": [1 << 30, 4 << 30],
        "size": 2 << 30,  # running with no guest memory: metrics.memory_actual
    }
    assert vm["$container"] == host_uuid
    assert vm["$VBDs"] == [factory.get(r)["uuid"] for r in raw["VBDs"]]
    assert vm["VIFs"] == [factory.get(r)["uuid"] for r in raw["VIFs"]]
    assert "VBDs" not in vm and "$VIFs" not in vm  # XO's asymmetry
    assert vm["tags"] == ["prod"]
    assert vm["addresses"]["0/ipv4/0"] == vm["mainIpAddress"]
    assert vm["addresses"]["0/ipv6/0"] == "fe80::1"
    assert vm["os_version"]["distro"] == "debian"
    assert vm["virtualizationMode"] == "hvm"
    assert vm["vga"] == "std" and vm["videoram"] == "8"
    assert vm["coresPerSocket"] == 2
    assert vm["cpuWeight"] == 256
    assert vm["startTime"] == 1709287200  # 20240301T10:00:00Z
    assert vm["installTime"] == 1704103200
    assert vm["xenTools"] == {"major": 8, "minor": 2, "version": 8.2}
    assert vm["pvDriversVersion"] == "8.2.0-100"
    assert vm["pvDriversDetected"] is True and vm["managementAgentDetected"] is True
    assert vm["isFirmwareSupported"] is True
    assert vm["current_operations"] == {}
    assert "PV_args" not in vm  # HVM
    assert "affinityHost" not in vm and "parent" not in vm  # NULL refs are absent, as in XO


def test_halted_vm_container_is_pool_unless_disk_on_local_sr(world):
    factory, names, objects = world
    pool_uuid = factory.get(names["pool"])["uuid"]
    host0 = factory.get(names["hosts"][0])["uuid"]
    on_shared = objects[factory.get(names["vms"][1])["uuid"]]  # halted, shared SR
    on_local = objects[factory.get(names["vms"][5])["uuid"]]  # halted, local SR of host 0
    assert on_shared["power_state"] == "Halted"
    assert on_shared["$container"] == pool_uuid
    assert on_local["$container"] == host0
    assert on_shared["memory"]["size"] == 2 << 30  # halted: dynamic max
    assert "xenTools" not in on_shared and "pvDriversVersion" not in on_shared
    assert on_shared["addresses"] == {} and on_shared["os_version"] is None


def test_default_template_id_is_scoped_by_pool():
    factory, names = build_pool(vms=0, hosts=1)
    tpl = factory.vm(
        "Debian",
        host=None,
        sr=names["shared_sr"],
        network=names["network"],
        disks=0,
        template=True,
        default=True,
    )
    custom = factory.vm(
        "Mine",
        host=None,
        sr=names["shared_sr"],
        network=names["network"],
        disks=0,
        template=True,
        default=False,
    )
    objects = load(factory)
    pool_uuid = factory.get(names["pool"])["uuid"]
    tpl_uuid = factory.get(tpl)["uuid"]
    default = objects[f"{pool_uuid}-{tpl_uuid}"]
    assert default["type"] == "VM-template"
    assert default["uuid"] == tpl_uuid
    assert default["isDefaultTemplate"] is True
    assert default["template_info"]["install_methods"] == ["cdrom", "nfs", "http", "ftp"]
    assert default["template_info"]["disks"] == []
    mine = objects[factory.get(custom)["uuid"]]
    assert mine["isDefaultTemplate"] is False and mine["id"] == mine["uuid"]


def test_template_disks_xml_is_parsed():
    factory, names = build_pool(vms=0, hosts=1)
    tpl = factory.vm(
        "T", host=None, sr=names["shared_sr"], network=names["network"], disks=0, template=True
    )
    factory.get(tpl)["other_config"]["disks"] = (
        '<provision><disk device="0" size="10737418240" sr="" bootable="true" type="system"/>'
        "</provision>"
    )
    obj = load(factory)[factory.get(tpl)["uuid"]]
    assert obj["template_info"]["disks"] == [
        {"device": "0", "size": 10737418240, "bootable": True, "type": "system", "SR": ""}
    ]


def test_host_pool_and_storage_objects(world):
    factory, names, objects = world
    host_raw = factory.get(names["hosts"][0])
    host = objects[host_raw["uuid"]]
    assert host["type"] == "host"
    assert host["power_state"] == "Running"  # host_metrics.live
    assert host["memory"] == {"usage": (64 << 30) - (32 << 30), "size": 64 << 30}
    assert host["cpus"] == {"cores": 8, "sockets": 1}
    assert host["productBrand"] == "XCP-ng" and host["version"] == "8.2.1"
    assert host["hvmCapable"] is True
    assert host["startTime"] == 1700000000 and host["agentStartTime"] == 1700000100
    assert host["chipset_info"] == {"iommu": False}
    assert host["license_expiry"] == to_timestamp("20301231T00:00:00Z")
    assert host["$PBDs"] == [factory.get(r)["uuid"] for r in host_raw["PBDs"]]
    assert host["PIFs"] == host["$PIFs"]
    pool = objects[factory.get(names["pool"])["uuid"]]
    assert pool["type"] == "pool"
    assert pool["master"] == host_raw["uuid"]
    assert pool["zstdSupported"] is True and pool["cpus"] == {"cores": 16, "sockets": 2}
    assert "default_SR" not in pool  # NULL
    local = objects[factory.get(names["local_srs"][0])["uuid"]]
    shared = objects[factory.get(names["shared_sr"])["uuid"]]
    assert local["$container"] == host_raw["uuid"] and local["allocationStrategy"] == "thin"
    assert shared["$container"] == pool["id"] and shared["SR_type"] == "nfs"
    pbd = objects[factory.get(host_raw["PBDs"][0])["uuid"]]
    assert pbd["device_config"] == {"device": "/dev/sdb", "password": "* obfuscated *"}
    assert pbd["host"] == host_raw["uuid"] and pbd["attached"] is True


def test_disk_and_network_objects(world):
    factory, names, objects = world
    vm_raw = factory.get(names["vms"][0])
    vbd_raw = factory.get(vm_raw["VBDs"][0])
    vbd = objects[vbd_raw["uuid"]]
    vdi = objects[factory.get(vbd_raw["VDI"])["uuid"]]
    assert vbd == {
        "type": "VBD",
        "attached": True,
        "bootable": True,
        "device": "xvda",
        "is_cd_drive": False,
        "position": "0",
        "read_only": False,
        "VDI": vdi["id"],
        "VM": vm_raw["uuid"],
        "id": vbd_raw["uuid"],
        "uuid": vbd_raw["uuid"],
        "$pool": vdi["$pool"],
        "$poolId": vdi["$pool"],
        "_xapiRef": vm_raw["VBDs"][0],
    }
    assert vdi["type"] == "VDI" and vdi["size"] == 10 << 30 and vdi["usage"] == 3 << 30
    assert vdi["$VBDs"] == [vbd["id"]] and vdi["parent"] == "11111111-2222-3333-4444-555555555555"
    vif = objects[factory.get(vm_raw["VIFs"][0])["uuid"]]
    assert vif["$VM"] == vm_raw["uuid"] and vif["MTU"] == 1500 and vif["txChecksumming"] is True
    assert "rateLimit" not in vif
    network = objects[factory.get(names["network"])["uuid"]]
    assert network["automatic"] is True and vif["id"] in network["VIFs"]
    pif = objects[network["PIFs"][0]]
    assert pif["vlan"] == -1 and pif["speed"] == 1000 and pif["carrier"] is True
    assert pif["isBondSlave"] is False and pif["$network"] == network["id"]


def test_snapshot_types_and_links():
    factory, names = build_pool(vms=1, hosts=1)
    vm = names["vms"][0]
    snap = factory.vm("snap", host=None, sr=names["shared_sr"], network=names["network"], disks=1)
    factory.get(snap).update(is_a_snapshot=True, snapshot_of=vm, snapshot_time="20240102T03:04:05Z")
    factory.get(vm)["snapshots"].append(snap)
    snap_vdi = factory.get(factory.get(factory.get(snap)["VBDs"][0])["VDI"])
    snap_vdi.update(is_a_snapshot=True, snapshot_time="20240102T03:04:05Z")
    objects = load(factory)
    snap_obj = objects[factory.get(snap)["uuid"]]
    assert snap_obj["type"] == "VM-snapshot"
    assert snap_obj["$snapshot_of"] == factory.get(vm)["uuid"]
    assert snap_obj["snapshot_time"] == to_timestamp("20240102T03:04:05Z")
    assert objects[factory.get(vm)["uuid"]]["snapshots"] == [snap_obj["id"]]
    vdi_obj = objects[snap_vdi["uuid"]]
    assert vdi_obj["type"] == "VDI-snapshot" and "$snapshot_of" not in vdi_obj


def test_dangling_refs_give_null_links_not_errors():
    factory, names = build_pool(vms=1, hosts=1)
    vm = factory.get(names["vms"][0])
    vm["VBDs"].append("OpaqueRef:gone")
    vm["resident_on"] = "OpaqueRef:no-such-host"
    vm["affinity"] = "OpaqueRef:nope"
    vm["metrics"] = "OpaqueRef:missing-metrics"
    vm["current_operations"] = {"OpaqueRef:unknown-task": "start"}
    objects = load(factory)
    obj = objects[vm["uuid"]]
    assert obj["$VBDs"][-1] is None
    assert obj["$container"] is None and obj["affinityHost"] is None
    assert obj["current_operations"] == {}
    assert "startTime" not in obj  # no metrics: XO leaves it undefined


def test_missing_fields_use_defaults():
    factory, names = build_pool(vms=1, hosts=1)
    vm = factory.get(names["vms"][0])
    for field in ("platform", "other_config", "HVM_boot_params", "domain_type", "VCPUs_params"):
        del vm[field]
    vm["HVM_boot_policy"] = ""
    obj = load(factory)[vm["uuid"]]
    assert obj["virtualizationMode"] == "pv" and obj["PV_args"] == ""
    assert obj["other"] == {} and obj["boot"] == {} and "vga" not in obj


def test_sim_style_typed_values_are_accepted():
    """The simulator hands datetimes and ints where JSON-RPC gives strings."""
    factory, names = build_pool(vms=1, hosts=1)
    metrics = factory.get(factory.get(names["vms"][0])["metrics"])
    metrics["start_time"] = dt.datetime(2024, 3, 1, 10, 0, 0)
    factory.get(names["vms"][0])["VCPUs_max"] = "4"  # XML-RPC int64
    obj = PoolRecords().load(factory.records)[factory.get(names["vms"][0])["uuid"]]
    assert obj["startTime"] == 1709287200
    assert obj["CPUs"]["max"] == 4


def test_task_and_message_objects():
    factory, names = build_pool(vms=1, hosts=1)
    vm_ref = names["vms"][0]
    task = factory.add(
        "task",
        {
            "name_label": "Async.VM.clean_shutdown",
            "name_description": "",
            "status": "pending",
            "progress": 0.5,
            "created": "20240101T00:00:00Z",
            "finished": "19700101T00:00:00Z",
            "resident_on": names["hosts"][0],
            "result": "",
            "allowed_operations": ["cancel"],
            "current_operations": {},
            "other_config": {"applies_to": vm_ref},
            "error_info": [],
        },
    )
    factory.get(vm_ref)["current_operations"] = {task: "clean_shutdown"}
    msg = factory.add(
        "message",
        {
            "name": "VM_STARTED",
            "body": "",
            "priority": 5,
            "cls": "VM",
            "obj_uuid": factory.get(vm_ref)["uuid"],
            "timestamp": "20240101T00:00:01Z",
        },
    )
    objects = load(factory)
    task_obj = objects[factory.get(task)["uuid"]]
    assert task_obj["type"] == "task" and task_obj["xapiRef"] == task
    assert task_obj["created"] == 1704067200 and task_obj["finished"] is None
    assert task_obj["applies_to"] == factory.get(vm_ref)["uuid"]
    assert task_obj["$host"] == factory.get(names["hosts"][0])["uuid"]
    vm = objects[factory.get(vm_ref)["uuid"]]
    assert vm["current_operations"] == {task_obj["id"]: "clean_shutdown"}
    message = objects[factory.get(msg)["uuid"]]
    assert message == {
        **message,
        "type": "message",
        "name": "VM_STARTED",
        "time": 1704067201,
        "$object": vm["id"],
    }


def test_every_object_serializes_to_json(world):
    _, _, objects = world
    decoded = orjson.loads(orjson.dumps(objects))
    assert decoded == objects


@pytest.mark.parametrize(
    ("networks", "expected"),
    [
        ({}, {}),
        (
            {"0/ip": "10.0.0.1 10.0.0.2", "0/ipv4/0": "10.0.0.1"},
            {"0/ipv4/0": "10.0.0.1", "0/ipv4/1": "10.0.0.2"},
        ),
        ({"1/ipv6/0": "fe80::1", "0/ip": " "}, {"1/ipv6/0": "fe80::1"}),
        ({"0/ipv4/1": "b", "0/ipv4/0": "a", "bogus": "x"}, {"0/ipv4/0": "a", "0/ipv4/1": "b"}),
    ],
)
def test_addresses_normalisation(networks, expected):
    assert normalize_addresses(networks) == expected


def test_main_ip_prefers_ipv4():
    assert main_ip_address({"0/ipv6/0": "fe80::1", "1/ipv4/0": "10.0.0.9"}) == "10.0.0.9"
    assert main_ip_address({"0/ipv6/0": "fe80::1"}) == "fe80::1"
    assert main_ip_address(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, None),
        (1678040309, 1678040309),
        ("19700101T00:00:00Z", None),
        ("20230305T18:18:29Z", 1678040309),
        ("20230305T18:18:29+01:00", 1678036709),
        ("0", None),
        ("1675817747.", 1675817747),
        ("1647628715.91", 1647628715.91),
        (dt.datetime(2023, 3, 5, 18, 18, 29), 1678040309),
        ("XXX 03/10/2010", None),
        (None, None),
    ],
)
def test_timestamps_like_xo_parse_datetime(value, expected):
    assert to_timestamp(value) == expected


def test_null_ref_constant_is_xapi_spelling():
    assert NULL == "OpaqueRef:NULL"
