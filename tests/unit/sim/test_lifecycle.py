"""VM power state machine through SimPool.rpc: transitions, field consistency, errors."""

from __future__ import annotations

import pytest
import trio
from sim_client import Client, assert_well_typed, find_vm

from xo.sim.errors import XapiFailure
from xo.sim.schema import NULL_REF


def _check_running(xapi: Client, ref: str) -> None:
    db = xapi.pool.db
    vm = db.get("VM", ref)
    assert vm["power_state"] == "Running"
    assert vm["resident_on"] in db.all("host")
    assert ref in db.get("host", vm["resident_on"])["resident_VMs"]
    assert vm["domid"] > 0
    assert vm["scheduled_to_be_resident_on"] == NULL_REF
    assert vm["current_operations"] == {}
    assert "clean_shutdown" in vm["allowed_operations"]
    assert "start" not in vm["allowed_operations"]
    metrics = db.get("VM_metrics", vm["metrics"])
    assert metrics["memory_actual"] == vm["memory_dynamic_max"]
    assert metrics["VCPUs_number"] == vm["VCPUs_at_startup"]
    assert metrics["start_time"] != "19700101T00:00:00Z"
    gm = db.get("VM_guest_metrics", vm["guest_metrics"])
    assert gm["networks"]["0/ip"]
    assert gm["os_version"]
    assert gm["PV_drivers_detected"] is True
    consoles = [db.get("console", c) for c in vm["consoles"]]
    address = db.get("host", vm["resident_on"])["address"]
    assert any(c["protocol"] == "rfb" for c in consoles)
    for ref_c, c in zip(vm["consoles"], consoles, strict=True):
        assert c["location"] == f"http://{address}/console?ref={ref_c}"
    for vbd in vm["VBDs"]:
        assert db.get("VBD", vbd)["currently_attached"] is True
    for vif in vm["VIFs"]:
        assert db.get("VIF", vif)["currently_attached"] is True


def _check_halted(xapi: Client, ref: str, host: str) -> None:
    db = xapi.pool.db
    vm = db.get("VM", ref)
    assert vm["power_state"] == "Halted"
    assert vm["resident_on"] == NULL_REF
    assert vm["domid"] == -1
    assert vm["consoles"] == []
    assert vm["guest_metrics"] == NULL_REF
    assert ref not in db.get("host", host)["resident_VMs"]
    assert db.get("VM_metrics", vm["metrics"])["memory_actual"] == 0
    assert "start" in vm["allowed_operations"]
    for vbd in vm["VBDs"]:
        assert db.get("VBD", vbd)["currently_attached"] is False


async def test_start_then_clean_shutdown_keeps_every_record_consistent(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Halted")
    db = xapi.pool.db
    await xapi("VM.start", ref, False, False)
    _check_running(xapi, ref)
    host = db.get("VM", ref)["resident_on"]
    free_running = db.get("host_metrics", db.get("host", host)["metrics"])["memory_free"]
    await xapi("VM.clean_shutdown", ref)
    _check_halted(xapi, ref, host)
    free_halted = db.get("host_metrics", db.get("host", host)["metrics"])["memory_free"]
    vm = db.get("VM", ref)
    assert free_halted - free_running == vm["memory_static_max"] + vm["memory_overhead"]


async def test_start_on_a_given_host_and_migrate(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Halted")
    db = xapi.pool.db
    shared = db.get("pool", xapi.pool.pool_ref)["default_SR"]
    # give the VM only shared disks so every host can run it
    for vbd in db.get("VM", ref)["VBDs"]:
        vdi = db.get("VBD", vbd)["VDI"]
        if vdi != NULL_REF:
            db.update("VDI", vdi, SR=shared)
    first, second = xapi.pool.host_refs
    await xapi("VM.start_on", ref, second, False, False)
    assert db.get("VM", ref)["resident_on"] == second
    old_consoles = db.get("VM", ref)["consoles"]
    await xapi("VM.pool_migrate", ref, first, {"live": "true"})
    vm = db.get("VM", ref)
    assert vm["resident_on"] == first
    assert ref in db.get("host", first)["resident_VMs"]
    assert ref not in db.get("host", second)["resident_VMs"]
    assert not set(old_consoles) & set(vm["consoles"])
    _check_running(xapi, ref)


async def test_reboot_changes_domid_and_start_time(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Running")
    db = xapi.pool.db
    before = db.get("VM", ref)["domid"]
    await xapi("VM.hard_reboot", ref)
    _check_running(xapi, ref)
    assert db.get("VM", ref)["domid"] != before


async def test_suspend_resume_and_pause_unpause(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Running")
    db = xapi.pool.db
    await xapi("VM.pause", ref)
    assert db.get("VM", ref)["power_state"] == "Paused"
    assert "unpause" in db.get("VM", ref)["allowed_operations"]
    await xapi("VM.unpause", ref)
    await xapi("VM.suspend", ref)
    vm = db.get("VM", ref)
    assert vm["power_state"] == "Suspended"
    assert vm["resident_on"] == NULL_REF and vm["domid"] == -1
    suspend_vdi = vm["suspend_VDI"]
    assert db.get("VDI", suspend_vdi)["type"] == "suspend"
    await xapi("VM.resume", ref, False, False)
    _check_running(xapi, ref)
    assert not db.exists("VDI", suspend_vdi)
    assert db.get("VM", ref)["suspend_VDI"] == NULL_REF
    assert_well_typed(xapi.pool)


async def test_hard_shutdown_of_suspended_vm_removes_suspend_image(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Running")
    await xapi("VM.suspend", ref)
    suspend_vdi = xapi.pool.db.get("VM", ref)["suspend_VDI"]
    await xapi("VM.hard_shutdown", ref)
    assert xapi.pool.db.get("VM", ref)["power_state"] == "Halted"
    assert not xapi.pool.db.exists("VDI", suspend_vdi)


@pytest.mark.parametrize(
    ("state", "method", "expected"),
    [
        ("Halted", "VM.clean_shutdown", "running"),
        ("Halted", "VM.hard_shutdown", "paused, suspended, running"),
        ("Halted", "VM.suspend", "running"),
        ("Halted", "VM.pause", "running"),
        ("Halted", "VM.hard_reboot", "paused, running"),
        ("Running", "VM.destroy", "halted, suspended"),
    ],
)
async def test_bad_power_state_lists_allowed_states_lowercase(
    xapi: Client, state: str, method: str, expected: str
) -> None:
    ref = find_vm(xapi.pool, state)
    with pytest.raises(XapiFailure) as error:
        await xapi(method, ref)
    assert error.value.description == ["VM_BAD_POWER_STATE", ref, expected, state.lower()]


async def test_start_of_running_vm_is_bad_power_state(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Running")
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.start", ref, False, False)
    assert error.value.description == ["VM_BAD_POWER_STATE", ref, "halted", "running"]


async def test_template_snapshot_and_dom0_rules(xapi: Client) -> None:
    db = xapi.pool.db
    template = next(r for r, v in db.all("VM").items() if v["is_default_template"])
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.start", template, False, False)
    assert error.value.description == ["VM_IS_TEMPLATE", template, "start"]
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.destroy", template)
    assert error.value.description == ["VM_IS_TEMPLATE", template, "destroy"]
    snapshot = next(r for r, v in db.all("VM").items() if v["is_a_snapshot"])
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.start", snapshot, False, False)
    assert error.value.description == ["VM_IS_SNAPSHOT", snapshot, "start"]
    dom0 = next(r for r, v in db.all("VM").items() if v["is_control_domain"])
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.hard_shutdown", dom0)
    assert error.value.code == "OPERATION_NOT_ALLOWED"


async def test_clean_shutdown_of_hvm_guest_without_pv_drivers_lacks_feature(xapi: Client) -> None:
    db = xapi.pool.db
    ref = find_vm(xapi.pool, "Halted")
    vm = db.get("VM", ref)
    db.update("VM", ref, other_config={**vm["other_config"], "xapi-sim:no-pv-drivers": "true"})
    await xapi("VM.start", ref, False, False)
    assert "clean_shutdown" not in db.get("VM", ref)["allowed_operations"]
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.clean_shutdown", ref)
    assert error.value.description == ["VM_LACKS_FEATURE", ref]
    await xapi("VM.shutdown", ref)  # falls back to a hard shutdown
    assert db.get("VM", ref)["power_state"] == "Halted"


async def test_blocked_operation_comes_first(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Running")
    await xapi("VM.add_to_blocked_operations", ref, "start", "because")
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.start", ref, False, False)
    assert error.value.description == ["OPERATION_BLOCKED", ref, "because"]


async def test_not_enough_memory(xapi: Client) -> None:
    db = xapi.pool.db
    ref = find_vm(xapi.pool, "Halted")
    host = xapi.pool.host_refs[0]
    db.update("host_metrics", db.get("host", host)["metrics"], memory_free=1024)
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.start_on", ref, host, False, False)
    vm = db.get("VM", ref)
    assert error.value.description == [
        "HOST_NOT_ENOUGH_FREE_MEMORY",
        str(vm["memory_static_max"] + vm["memory_overhead"]),
        "1024",
    ]


async def test_concurrent_operation_is_refused_and_current_operations_visible(xapi: Client) -> None:
    ref = find_vm(xapi.pool, "Halted")
    db = xapi.pool.db
    task = await xapi("Async.VM.start", ref, False, False)
    with trio.fail_after(5):
        while not db.get("VM", ref)["current_operations"]:
            await db.changed().wait()
    assert db.get("VM", ref)["current_operations"] == {task: "start"}
    assert db.get("VM", ref)["allowed_operations"] == []
    with pytest.raises(XapiFailure) as error:
        await xapi("VM.clone", ref, "clone")
    assert error.value.description == ["OTHER_OPERATION_IN_PROGRESS", "VM", ref, "start", task]
    with trio.fail_after(5):
        while db.get("task", task)["status"] == "pending":
            await db.changed().wait()
    assert db.get("VM", ref)["current_operations"] == {}
    _check_running(xapi, ref)


async def test_clone_copy_snapshot_revert_destroy(xapi: Client) -> None:
    db = xapi.pool.db
    disks = xapi.pool.disks
    ref = find_vm(xapi.pool, "Halted")
    vm = db.get("VM", ref)
    first_vdi = next(db.get("VBD", v)["VDI"] for v in vm["VBDs"] if db.get("VBD", v)["type"] == "Disk")
    disks.write(first_vdi, 0, b"original")

    clone = await xapi("VM.clone", ref, "the clone")
    clone_rec = db.get("VM", clone)
    assert clone_rec["name_label"] == "the clone"
    assert len(clone_rec["VBDs"]) == len(vm["VBDs"]) and len(clone_rec["VIFs"]) == len(vm["VIFs"])
    clone_vdi = next(db.get("VBD", v)["VDI"] for v in clone_rec["VBDs"] if db.get("VBD", v)["type"] == "Disk")
    assert clone_vdi != first_vdi and disks.read(clone_vdi, 0, 8) == b"original"

    local = next(r for r, s in db.all("SR").items() if not s["shared"] and s["content_type"] == "user")
    copy = await xapi("VM.copy", ref, "the copy", local)
    for vbd in db.get("VM", copy)["VBDs"]:
        vdi = db.get("VBD", vbd)["VDI"]
        if vdi != NULL_REF and db.get("VBD", vbd)["type"] == "Disk":
            assert db.get("VDI", vdi)["SR"] == local

    snap = await xapi("VM.snapshot", ref, "snap")
    snap_rec = db.get("VM", snap)
    assert snap_rec["is_a_snapshot"] is True and snap_rec["snapshot_of"] == ref
    assert snap_rec["snapshot_time"] != "19700101T00:00:00Z"
    assert snap in db.get("VM", ref)["snapshots"]
    snap_vdi = next(db.get("VBD", v)["VDI"] for v in snap_rec["VBDs"] if db.get("VBD", v)["type"] == "Disk")
    assert db.get("VDI", snap_vdi)["snapshot_of"] == first_vdi

    disks.write(first_vdi, 0, b"modified")
    await xapi("VM.revert", snap)
    reverted = db.get("VM", ref)
    new_vdi = next(db.get("VBD", v)["VDI"] for v in reverted["VBDs"] if db.get("VBD", v)["type"] == "Disk")
    assert disks.read(new_vdi, 0, 8) == b"original"

    await xapi("VM.destroy", clone)
    assert not db.exists("VM", clone)
    assert db.exists("VDI", clone_vdi)  # destroy keeps disks
    assert db.get("VDI", clone_vdi)["VBDs"] == []
    assert_well_typed(xapi.pool)


async def test_checkpoint_of_running_vm_is_suspended_snapshot(xapi: Client) -> None:
    db = xapi.pool.db
    ref = find_vm(xapi.pool, "Running")
    snap = await xapi("VM.checkpoint", ref, "cp")
    rec = db.get("VM", snap)
    assert rec["power_state"] == "Suspended" and rec["suspend_VDI"] != NULL_REF
    assert db.get("VM", ref)["power_state"] == "Running"


async def test_vm_create_then_devices_plug(xapi: Client) -> None:
    db = xapi.pool.db
    ref = await xapi("VM.create", {"name_label": "fresh", "memory_static_max": "1073741824", "memory_dynamic_max": 1073741824, "memory_static_min": 1073741824, "memory_dynamic_min": 1073741824, "VCPUs_max": 1, "VCPUs_at_startup": 1, "HVM_boot_policy": "BIOS order", "power_state": "running"})  # fmt: skip
    vm = db.get("VM", ref)
    assert vm["power_state"] == "Halted" and vm["memory_static_max"] == 1 << 30
    assert db.exists("VM_metrics", vm["metrics"])
    sr = db.get("pool", xapi.pool.pool_ref)["default_SR"]
    vdi = await xapi("VDI.create", {"name_label": "disk", "SR": sr, "virtual_size": str(1 << 30), "type": "user", "sharable": False, "read_only": False, "other_config": {}})  # fmt: skip
    vbd = await xapi("VBD.create", {"VM": ref, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW", "type": "Disk", "empty": False, "other_config": {}})  # fmt: skip
    network = next(iter(db.all("network")))
    vif = await xapi("VIF.create", {"VM": ref, "network": network, "device": "0", "MAC": "", "MTU": 1500, "other_config": {}})  # fmt: skip
    assert db.get("VIF", vif)["MAC"]
    with pytest.raises(XapiFailure) as error:
        await xapi("VBD.plug", vbd)
    assert error.value.description == ["VM_BAD_POWER_STATE", ref, "running", "halted"]
    await xapi("VM.start", ref, False, False)
    assert db.get("VBD", vbd)["currently_attached"] is True
    await xapi("VBD.unplug", vbd)
    assert db.get("VBD", vbd)["currently_attached"] is False
    with pytest.raises(XapiFailure) as error:
        await xapi("VBD.unplug", vbd)
    assert error.value.description == ["DEVICE_ALREADY_DETACHED", vbd]
    await xapi("VDI.resize", vdi, str(2 << 30))
    assert db.get("VDI", vdi)["virtual_size"] == 2 << 30
    assert xapi.pool.disks.size(vdi) == 2 << 30
    assert_well_typed(xapi.pool)


async def test_clone_template_then_provision_creates_its_disks(xapi: Client) -> None:
    db = xapi.pool.db
    template = next(r for r, v in db.all("VM").items() if v["name_label"] == "Debian Bookworm 12")
    vm = await xapi("VM.clone", template, "from template")
    assert db.get("VM", vm)["is_a_template"] is True and db.get("VM", vm)["is_default_template"] is False
    await xapi("VM.provision", vm)
    rec = db.get("VM", vm)
    assert rec["is_a_template"] is False  # provision makes it a VM, as xapi does
    assert "start" in rec["allowed_operations"]
    assert "disks" not in rec["other_config"]
    disks = [db.get("VBD", v) for v in rec["VBDs"]]
    assert [(d["userdevice"], d["bootable"]) for d in disks] == [("0", True)]
    assert db.get("VDI", disks[0]["VDI"])["virtual_size"] == 10 << 30
    await xapi("VM.start", vm, False, False)
    assert db.get("VM", vm)["power_state"] == "Running"


async def test_concurrent_starts_cannot_overcommit_a_host(xapi: Client) -> None:
    db = xapi.pool.db
    host = xapi.pool.host_refs[0]
    shared = db.get("pool", xapi.pool.pool_ref)["default_SR"]
    halted = [r for r, v in db.all("VM").items() if v["power_state"] == "Halted" and not (v["is_a_template"] or v["is_a_snapshot"])][:2]
    for ref in halted:
        db.update("VM", ref, memory_static_max=4 << 30, memory_overhead=0)
        for vbd in db.get("VM", ref)["VBDs"]:
            vdi = db.get("VBD", vbd)["VDI"]
            if vdi != NULL_REF:
                db.update("VDI", vdi, SR=shared)
    db.update("host_metrics", db.get("host", host)["metrics"], memory_free=6 << 30)
    tasks = [await xapi("Async.VM.start_on", ref, host, False, False) for ref in halted]
    with trio.fail_after(5):
        while any(db.get("task", t)["status"] == "pending" for t in tasks):
            await db.changed().wait()
    statuses = sorted(db.get("task", t)["status"] for t in tasks)
    assert statuses == ["failure", "success"]
    failed = next(t for t in tasks if db.get("task", t)["status"] == "failure")
    assert db.get("task", failed)["error_info"][0] == "HOST_NOT_ENOUGH_FREE_MEMORY"
    assert db.get("host_metrics", db.get("host", host)["metrics"])["memory_free"] == 2 << 30


async def test_host_evacuate_moves_guests_away(xapi: Client) -> None:
    db = xapi.pool.db
    shared = db.get("pool", xapi.pool.pool_ref)["default_SR"]
    for vdi, rec in list(db.all("VDI").items()):
        if not db.get("SR", rec["SR"])["shared"]:
            db.update("VDI", vdi, SR=shared)
    source, other = xapi.pool.host_refs
    guests = [v for v in db.get("host", source)["resident_VMs"] if not db.get("VM", v)["is_control_domain"]]
    assert guests
    await xapi("host.disable", source)
    await xapi("host.evacuate", source)
    assert [v for v in db.get("host", source)["resident_VMs"] if not db.get("VM", v)["is_control_domain"]] == []
    for vm in guests:
        assert db.get("VM", vm)["resident_on"] == other and db.get("VM", vm)["power_state"] == "Running"
