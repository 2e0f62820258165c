"""``VM.*`` lifecycle messages (reference xapi.md §4)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from xo.sim import lifecycle, vm_copy, vm_ops
from xo.sim.errors import XapiFailure
from xo.sim.methods.implicit import record_fields
from xo.sim.methods.registry import Call, handler
from xo.sim.schema import NULL_REF, SCHEMAS
from xo.sim.tasks import now
from xo.sim.vm_records import create_vm_metrics


async def _start(call: Call, ref: str, op: str, host: str | None, paused: bool) -> None:
    async with lifecycle.operation(call, ref, op) as vm:
        target = host or lifecycle.choose_host(call, ref, vm)
        lifecycle.assert_can_run_on(call, ref, vm, target)
        call.db.update("VM", ref, scheduled_to_be_resident_on=target)
        reserved = lifecycle.reserve_memory(call, ref, target)
        try:
            await call.work(call.pool.timing.delay("vm_start" if op.startswith("start") else "vm_resume"))
        except BaseException:
            lifecycle.release_memory(call, target, reserved)
            if call.db.exists("VM", ref):
                call.db.update("VM", ref, scheduled_to_be_resident_on=NULL_REF)
            raise
        lifecycle.become_running(call, ref, target, paused=paused, reserved=True)


@handler("VM.start")
async def start(call: Call, vm: str, start_paused: bool, force: bool) -> None:
    await _start(call, vm, "start", None, start_paused)


@handler("VM.start_on")
async def start_on(call: Call, vm: str, host: str, start_paused: bool, force: bool) -> None:
    call.db.get("host", host)
    await _start(call, vm, "start_on", host, start_paused)


@handler("VM.resume")
async def resume(call: Call, vm: str, start_paused: bool, force: bool) -> None:
    await _start(call, vm, "resume", None, start_paused)


@handler("VM.resume_on")
async def resume_on(call: Call, vm: str, host: str, start_paused: bool, force: bool) -> None:
    call.db.get("host", host)
    await _start(call, vm, "resume_on", host, start_paused)


async def _halt(call: Call, ref: str, op: str, delay: str) -> None:
    async with lifecycle.operation(call, ref, op):
        await call.work(call.pool.timing.delay(delay))
        lifecycle.become_halted(call, ref)


@handler("VM.clean_shutdown")
async def clean_shutdown(call: Call, vm: str) -> None:
    await _halt(call, vm, "clean_shutdown", "vm_shutdown")


@handler("VM.hard_shutdown")
async def hard_shutdown(call: Call, vm: str) -> None:
    await _halt(call, vm, "hard_shutdown", "vm_destroy")


@handler("VM.shutdown")
async def shutdown(call: Call, vm: str) -> None:
    rec = call.db.get("VM", vm)
    clean_error = vm_ops.operation_error(call.db, vm, rec, "clean_shutdown")
    if clean_error is None:
        await _halt(call, vm, "clean_shutdown", "vm_shutdown")
    else:
        await _halt(call, vm, "shutdown", "vm_destroy")


async def _reboot(call: Call, ref: str, op: str) -> None:
    async with lifecycle.operation(call, ref, op) as vm:
        host = vm["resident_on"]
        await call.work(call.pool.timing.delay("vm_reboot"))
        lifecycle.become_halted(call, ref)
        lifecycle.become_running(call, ref, host)


@handler("VM.clean_reboot")
async def clean_reboot(call: Call, vm: str) -> None:
    await _reboot(call, vm, "clean_reboot")


@handler("VM.hard_reboot")
async def hard_reboot(call: Call, vm: str) -> None:
    await _reboot(call, vm, "hard_reboot")


@handler("VM.suspend")
async def suspend(call: Call, vm: str) -> None:
    async with lifecycle.operation(call, vm, "suspend"):
        await call.work(call.pool.timing.delay("vm_suspend"))
        lifecycle.become_halted(call, vm, suspended_vdi=lifecycle.make_suspend_vdi(call, vm))


@handler("VM.pause")
async def pause(call: Call, vm: str) -> None:
    async with lifecycle.operation(call, vm, "pause"):
        await call.work(call.pool.timing.delay("vm_pause"))
        call.db.update("VM", vm, power_state="Paused")


@handler("VM.unpause")
async def unpause(call: Call, vm: str) -> None:
    async with lifecycle.operation(call, vm, "unpause"):
        await call.work(call.pool.timing.delay("vm_pause"))
        call.db.update("VM", vm, power_state="Running")


@handler("VM.pool_migrate")
async def pool_migrate(call: Call, vm: str, host: str, options: dict[str, str]) -> None:
    call.db.get("host", host)
    async with lifecycle.operation(call, vm, "pool_migrate") as rec:
        source = rec["resident_on"]
        if host != source:
            lifecycle.assert_can_run_on(call, vm, rec, host)
        call.db.update("VM", vm, scheduled_to_be_resident_on=host)
        reserved = lifecycle.reserve_memory(call, vm, host)
        try:
            await call.work(call.pool.timing.delay("vm_migrate"))
        except BaseException:
            lifecycle.release_memory(call, host, reserved)
            call.db.update("VM", vm, scheduled_to_be_resident_on=NULL_REF)
            raise
        paused = call.db.get("VM", vm)["power_state"] == "Paused"
        lifecycle.become_halted(call, vm)
        lifecycle.become_running(call, vm, host, paused=paused, reserved=True)


@handler("VM.power_state_reset")
async def power_state_reset(call: Call, vm: str) -> None:
    rec = call.db.get("VM", vm)
    if rec["is_control_domain"]:
        raise XapiFailure("OPERATION_NOT_ALLOWED", "This operation is not allowed on dom0")
    if rec["power_state"] != "Halted":
        lifecycle.become_halted(call, vm)
    call.db.update("VM", vm, current_operations={})
    vm_ops.refresh(call.db, vm)


@handler("VM.clone")
async def clone(call: Call, vm: str, new_name: str) -> str:
    async with lifecycle.operation(call, vm, "clone"):
        await call.work(call.pool.timing.delay("vm_clone"))
        return vm_copy.copy_vm(call.db, call.pool.disks, vm, new_name)


@handler("VM.copy")
async def copy(call: Call, vm: str, new_name: str, sr: str) -> str:
    if sr != NULL_REF:
        call.db.get("SR", sr)
    async with lifecycle.operation(call, vm, "copy"):
        await call.work(call.pool.timing.delay("vm_copy"))
        return vm_copy.copy_vm(call.db, call.pool.disks, vm, new_name, sr=None if sr == NULL_REF else sr)


@handler("VM.snapshot", "VM.snapshot_with_quiesce")
async def snapshot(call: Call, vm: str, new_name: str, ignore_vdis: list[str] | None = None) -> str:
    async with lifecycle.operation(call, vm, "snapshot"):
        await call.work(call.pool.timing.delay("vm_snapshot"))
        return vm_copy.copy_vm(
            call.db, call.pool.disks, vm, new_name, snapshot=True, ignore_vdis=frozenset(ignore_vdis or [])
        )


@handler("VM.checkpoint")
async def checkpoint(call: Call, vm: str, new_name: str) -> str:
    async with lifecycle.operation(call, vm, "checkpoint"):
        await call.work(call.pool.timing.delay("vm_snapshot"))
        snap = vm_copy.copy_vm(call.db, call.pool.disks, vm, new_name, snapshot=True, power_state="Suspended")
        suspend = lifecycle.make_suspend_vdi(call, vm)
        call.db.update("VM", snap, suspend_VDI=suspend, suspend_SR=call.db.get("VDI", suspend)["SR"])
        return snap


@handler("VM.revert")
async def revert(call: Call, snapshot: str) -> None:
    snap = call.db.get("VM", snapshot)
    if not snap["is_a_snapshot"]:
        raise XapiFailure("OPERATION_NOT_ALLOWED", "Only snapshots can be reverted")
    target = snap["snapshot_of"]
    if not call.db.exists("VM", target):
        raise XapiFailure("VM_REVERT_FAILED", snapshot, target)
    async with lifecycle.operation(call, snapshot, "revert"):
        await call.work(call.pool.timing.delay("vm_snapshot"))
        if call.db.get("VM", target)["power_state"] != "Halted":
            lifecycle.become_halted(call, target)
        vm_copy.revert_to(call.db, call.pool.disks, snapshot)


@handler("VM.destroy")
async def destroy(call: Call, vm: str) -> None:
    vm_ops.check(call.db, vm, "destroy")
    await call.work(call.pool.timing.delay("vm_destroy"))
    vm_ops.check(call.db, vm, "destroy")
    vm_copy.destroy_vm(call.db, call.pool.disks, vm)


@handler("VM.create")
async def create(call: Call, args: dict[str, Any]) -> str:
    fields = record_fields(SCHEMAS["VM"], args)
    fields.setdefault("domid", -1)
    fields["power_state"] = "Halted"
    ref = call.db.create("VM", fields)
    metrics = create_vm_metrics(call.db, call.db.get("VM", ref), running=False, now=now())
    call.db.update("VM", ref, metrics=metrics)
    vm_ops.refresh(call.db, ref)
    return ref


@handler("VM.provision")
async def provision(call: Call, vm: str) -> None:
    """Turn the template copy into a VM (``is_a_template`` false), create the disks
    ``other_config.disks`` asks for, then drop the key (as xapi does)."""
    async with lifecycle.operation(call, vm, "provision") as rec:
        await call.work(call.pool.timing.delay("vdi_op"))
        call.db.update("VM", vm, is_a_template=False)
        vm_ops.refresh(call.db, vm)
        for disk in provision_disks(rec["other_config"].get("disks", "")):
            sr = call.db.find_by_uuid("SR", disk.get("sr", "")) or call.db.get("pool", call.pool.pool_ref)["default_SR"]
            vdi = call.pool.create_vdi(sr, int(disk.get("size", "0") or 0), name_label=f"{rec['name_label']} {disk.get('device', '0')}", type=disk.get("type", "system"))  # fmt: skip
            device = disk.get("device", "0")
            call.db.create(
                "VBD",
                {"VM": vm, "VDI": vdi, "userdevice": device, "device": f"xvd{chr(ord('a') + int(device))}" if device.isdigit() and int(device) < 26 else "", "bootable": disk.get("bootable") == "true", "mode": "RW", "type": "Disk", "unpluggable": True},  # fmt: skip
            )
        other = {k: v for k, v in call.db.get("VM", vm)["other_config"].items() if k != "disks"}
        call.db.update("VM", vm, other_config=other)


def provision_disks(xml: str) -> list[dict[str, str]]:
    """``<provision><disk device= size= sr= bootable= type=/>...`` -> attribute dicts."""
    if not xml.strip():
        return []
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise XapiFailure("INVALID_VALUE", "other_config:disks", xml) from None
    disks = [dict(d.attrib) for d in root.iter("disk")]
    for disk in disks:
        if not disk.get("size", "0").isdigit():
            raise XapiFailure("INVALID_VALUE", "other_config:disks", xml)
    return disks


@handler("VM.set_is_a_template")
async def set_is_a_template(call: Call, vm: str, value: bool) -> None:
    rec = call.db.get("VM", vm)
    if value and rec["power_state"] != "Halted":
        raise XapiFailure("VM_BAD_POWER_STATE", vm, "halted", rec["power_state"].lower())
    call.db.update("VM", vm, is_a_template=value)
    vm_ops.refresh(call.db, vm)


@handler("VM.set_memory")
async def set_memory(call: Call, vm: str, value: int) -> None:
    call.db.get("VM", vm)
    call.db.update("VM", vm, memory_static_max=value, memory_dynamic_max=value, memory_dynamic_min=value, memory_target=value)  # fmt: skip


ORDER_CONSTRAINT = "Memory limits must satisfy: static_min \u2264 dynamic_min \u2264 dynamic_max \u2264 static_max"  # fmt: skip


def _memory_limits(call: Call, vm: str, op: str, **changes: int) -> dict[str, Any]:
    """Check ``op`` (``changing_memory_limits`` / ``_static_range`` / ``_dynamic_range``) and the
    order of the four limits after ``changes``; apply them. Returns the new record."""
    rec = vm_ops.check(call.db, vm, op)
    limits = {k: rec[k] for k in ("memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max")}  # fmt: skip
    limits.update(changes)
    values = list(limits.values())
    if values != sorted(values) or values[0] < 0:
        raise XapiFailure("MEMORY_CONSTRAINT_VIOLATION", ORDER_CONSTRAINT)
    call.db.update("VM", vm, **changes)
    if rec["power_state"] == "Running" and "memory_dynamic_max" in changes:
        # the balloon driver reaches the new target at once
        call.db.update("VM", vm, memory_target=changes["memory_dynamic_max"])
        if call.db.exists("VM_metrics", rec["metrics"]):
            call.db.update("VM_metrics", rec["metrics"], memory_actual=changes["memory_dynamic_max"])
    return call.db.get("VM", vm)


@handler("VM.set_memory_limits")
async def set_memory_limits(call: Call, vm: str, static_min: int, static_max: int, dynamic_min: int, dynamic_max: int) -> None:  # fmt: skip
    """Halted VMs only (``VM_BAD_POWER_STATE`` otherwise), like xapi."""
    _memory_limits(call, vm, "changing_memory_limits", memory_static_min=static_min, memory_static_max=static_max, memory_dynamic_min=dynamic_min, memory_dynamic_max=dynamic_max)  # fmt: skip


@handler("VM.set_memory_static_range")
async def set_memory_static_range(call: Call, vm: str, min: int, max: int) -> None:  # noqa: A002
    _memory_limits(call, vm, "changing_static_range", memory_static_min=min, memory_static_max=max)


@handler("VM.set_memory_dynamic_range")
async def set_memory_dynamic_range(call: Call, vm: str, min: int, max: int) -> None:  # noqa: A002
    """Halted or Running (the balloon moves at once): within the static range."""
    _memory_limits(call, vm, "changing_dynamic_range", memory_dynamic_min=min, memory_dynamic_max=max)


@handler("VM.set_memory_dynamic_min", "VM.set_memory_dynamic_max")
async def set_memory_dynamic_bound(call: Call, vm: str, value: int) -> None:
    field = "memory_" + call.method.rsplit("set_memory_", 1)[1]
    _memory_limits(call, vm, "changing_dynamic_range", **{field: value})


@handler("VM.set_memory_static_min", "VM.set_memory_static_max")
async def set_memory_static_bound(call: Call, vm: str, value: int) -> None:
    field = "memory_" + call.method.rsplit("set_memory_", 1)[1]
    _memory_limits(call, vm, "changing_static_range", **{field: value})


@handler("VM.set_VCPUs_number_live")
async def set_vcpus_number_live(call: Call, vm: str, nvcpu: int) -> None:
    rec = vm_ops.check(call.db, vm, "changing_VCPUs_live")
    if nvcpu > rec["VCPUs_max"]:
        raise XapiFailure("INVALID_VALUE", "VCPU values must satisfy: 0 < VCPUs ≤ VCPUs_max", str(nvcpu))
    call.db.update("VM", vm, VCPUs_at_startup=nvcpu)
    if call.db.exists("VM_metrics", rec["metrics"]):
        call.db.update("VM_metrics", rec["metrics"], VCPUs_number=nvcpu)


@handler("VM.get_allowed_VBD_devices")
async def get_allowed_vbd_devices(call: Call, vm: str) -> list[str]:
    used = {call.db.get("VBD", v)["userdevice"] for v in call.db.get("VM", vm)["VBDs"]}
    return [str(n) for n in range(16) if str(n) not in used]


@handler("VM.get_allowed_VIF_devices")
async def get_allowed_vif_devices(call: Call, vm: str) -> list[str]:
    used = {call.db.get("VIF", v)["device"] for v in call.db.get("VM", vm)["VIFs"]}
    return [str(n) for n in range(7) if str(n) not in used]
