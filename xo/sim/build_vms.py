"""Scenario building, part 2: default templates, guest VMs with disks, NICs, snapshots."""

from __future__ import annotations

from typing import Any

from xo.sim import catalog, vm_ops
from xo.sim.build_infra import BuildContext, _mac
from xo.sim.catalog import GuestOs
from xo.sim.schema import NULL_REF, SCHEMAS
from xo.sim.vm_records import GiB, MiB, create_consoles, create_guest_metrics, create_vm_metrics


def _provision_xml(disk_gib: int) -> str:
    return (
        f'<provision><disk device="0" size="{disk_gib * GiB}" sr="" bootable="true" type="system"/>'
        "</provision>"
    )


def _platform(guest: GuestOs, vcpus: int, with_cores: bool = True) -> dict[str, str]:
    platform = {
        "timeoffset": "0",
        "device-model": "qemu-upstream-compat",
        "viridian": "true" if guest.family == "windows" else "false",
        "nx": "true",
        "acpi": "1",
        "apic": "true",
        "pae": "true",
        "hpet": "true",
        "secureboot": "false",
    }
    if guest.family == "windows":
        platform.update(
            {
                "viridian_time_ref_count": "true",
                "viridian_reference_tsc": "true",
                "device_id": "0002",
            }
        )
    if with_cores:
        platform["cores-per-socket"] = str(vcpus)
    return platform


def _vm_fields(guest: GuestOs, memory: int, vcpus: int) -> dict[str, Any]:
    return {
        "memory_static_max": memory,
        "memory_dynamic_max": memory,
        "memory_dynamic_min": memory,
        "memory_static_min": min(memory, 512 * MiB),
        "memory_target": memory,
        "memory_overhead": 11 * MiB,
        "VCPUs_max": vcpus,
        "VCPUs_at_startup": vcpus,
        "VCPUs_params": {},
        "HVM_boot_policy": "BIOS order",
        "HVM_boot_params": {"order": "cdn", "firmware": guest.firmware},
        "HVM_shadow_multiplier": 1.0,
        "domain_type": "hvm",
        "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart",
        "actions_after_crash": "restart",
        "recommendations": catalog.RECOMMENDATIONS,
        "user_version": 1,
        "hardware_platform_version": 2,
        "has_vendor_device": guest.family == "windows",
    }


def build_templates(ctx: BuildContext) -> None:
    db = ctx.db
    for guest in catalog.GUESTS:
        fields = _vm_fields(guest, guest.memory_mib * MiB, 2)
        other = {
            "default_template": "true",
            "install-methods": "cdrom" if guest.family != "linux" else "cdrom,nfs,http,ftp",
            "disks": _provision_xml(guest.disk_gib),
            "base_template_name": guest.template,
            "mac_seed": db.ids.uuid(),
        }
        if guest.family == "linux":
            other["linux_template"] = "true"
            other["install-arch"] = "amd64"
        ref = db.create(
            "VM",
            {
                **fields,
                "name_label": guest.template,
                "name_description": f"Template which allows VM installation of {guest.template}",
                "is_a_template": True,
                "is_default_template": True,
                "platform": _platform(guest, 2, with_cores=False),
                "other_config": other,
                "domid": -1,
            },
        )
        metrics = create_vm_metrics(db, db.get("VM", ref), running=False, now=ctx.ts(0))
        db.update("VM", ref, metrics=metrics)
        vm_ops.refresh(db, ref)
        ctx.templates[guest.template] = ref


def build_vms(ctx: BuildContext, count: int) -> None:
    db, rng = ctx.db, ctx.rng
    guests = [g for g in catalog.GUESTS if g.family != "other"]
    for i in range(count):
        guest = guests[rng.randrange(len(guests))]
        host = ctx.hosts[i % len(ctx.hosts)]
        role = catalog.VM_ROLES[rng.randrange(len(catalog.VM_ROLES))]
        name = f"{role}-{i + 1:02d}" if count < 100 else f"{role}-{i + 1:05d}"
        running = rng.random() < 0.6
        memory = (1 << rng.randrange(0, 4)) * GiB
        vcpus = 1 << rng.randrange(0, 3)
        with_tools = running and (guest.family == "linux" or rng.random() < 0.8)
        fields = _vm_fields(guest, memory, vcpus)
        fields.update(
            {
                "name_label": name,
                "name_description": f"{role} server {i + 1}",
                "power_state": "Running" if running else "Halted",
                "platform": _platform(guest, vcpus, with_cores=rng.random() < 0.9),
                "other_config": {
                    "base_template_name": guest.template,
                    "mac_seed": db.ids.uuid(),
                    "install-methods": "cdrom",
                    "import_task": "",
                    "auto_poweron": "false",
                },
                "affinity": host,
                "tags": [role] if rng.random() < 0.3 else [],
                "domid": -1,
            }
        )
        start = ctx.ts(-rng.randrange(3_600, 86_400 * 20))
        fields["metrics"] = create_vm_metrics(db, fields, running=running, now=start)
        if running:
            fields.update(_running_fields(ctx, host, guest, i, with_tools))
        ref = db.ids.ref()
        fields["allowed_operations"] = vm_ops.allowed_operations(db, ref, {**SCHEMAS["VM"].default_record(), **fields})
        db.create("VM", fields, ref=ref)
        sr = ctx.shared_sr if rng.random() < 0.7 else ctx.local_srs[host]
        vdis = []
        for d in range(1 + (rng.random() < 0.3)):
            size = rng.randrange(10, 101) * GiB
            vdis.append(
                _disk(ctx, ref, sr, f"{name} {'system' if d == 0 else 'data'}", size, d, running)
            )
        _cd(ctx, ref, running)
        for n in range(1 + (rng.random() < 0.2)):
            db.create(
                "VIF",
                {
                    "device": str(n),
                    "network": ctx.networks[n],
                    "VM": ref,
                    "MAC": _mac(0xDA, ctx.index, i // 256, (i % 256) * 2 + n),
                    "MTU": 1500,
                    "currently_attached": running,
                    "locking_mode": "network_default",
                    "MAC_autogenerated": True,
                    "allowed_operations": ["attach", "unplug"] if running else ["attach"],
                },
            )
        if running:
            create_consoles(db, ref, host, ctx.url_scheme)
        for s in range(_snapshot_count(i)):
            _snapshot(ctx, ref, vdis, f"{name} snapshot {s + 1}", start, s)


def _snapshot_count(i: int) -> int:
    return 2 if i % 21 == 20 else 1 if i % 7 == 6 else 0


def _disk(
    ctx: BuildContext, vm: str, sr: str, label: str, size: int, userdevice: int, running: bool
) -> str:
    db = ctx.db
    vdi, uuid = db.ids.ref(), db.ids.uuid()
    ctx.disks.create(vdi, size)
    db.create(
        "VDI",
        {
            "uuid": uuid, "location": uuid, "name_label": label, "SR": sr, "virtual_size": size,
            "physical_utilisation": ctx.disks.physical_utilisation(vdi), "type": "system" if userdevice == 0 else "user",
            "managed": True, "allowed_operations": ["clone", "snapshot", "copy", "resize", "destroy"] if not running else ["clone", "snapshot", "copy"],
            "sm_config": {"image-format": "vhd"}, "on_boot": "persist", "other_config": {},
        },
        ref=vdi,
    )  # fmt: skip
    db.create(
        "VBD",
        {
            "VM": vm, "VDI": vdi, "device": f"xvd{chr(ord('a') + userdevice)}", "userdevice": str(userdevice),
            "bootable": userdevice == 0, "mode": "RW", "type": "Disk", "empty": False, "unpluggable": True,
            "currently_attached": running, "other_config": {"owner": "true"},
        },
    )  # fmt: skip
    return vdi


def _cd(ctx: BuildContext, vm: str, running: bool) -> None:
    ctx.db.create(
        "VBD",
        {
            "VM": vm,
            "VDI": NULL_REF,
            "device": "xvdd",
            "userdevice": "3",
            "bootable": False,
            "mode": "RO",
            "type": "CD",
            "empty": True,
            "unpluggable": True,
            "currently_attached": running,
        },  # fmt: skip
    )


def _running_fields(ctx: BuildContext, host: str, guest: GuestOs, i: int, with_tools: bool) -> dict[str, Any]:
    domid = ctx.next_domid[host]
    ctx.next_domid[host] = domid + 1
    fields: dict[str, Any] = {"resident_on": host, "domid": domid}
    if with_tools:
        ip = f"10.{100 + ctx.index}.{i // 250}.{i % 250 + 2}"
        fields["guest_metrics"] = create_guest_metrics(ctx.db, guest.os_version, ip, now=ctx.ts(0))
    return fields


def _snapshot(ctx: BuildContext, vm: str, vdis: list[str], label: str, base: Any, s: int) -> None:
    db = ctx.db
    source = db.get("VM", vm)
    when = ctx.ts(-86_400 * (s + 1))
    fields = {k: source[k] for k in ("memory_static_max", "memory_dynamic_max", "memory_dynamic_min", "memory_static_min", "memory_target", "VCPUs_max", "VCPUs_at_startup", "HVM_boot_policy", "HVM_boot_params", "platform", "domain_type", "recommendations", "other_config", "actions_after_shutdown", "actions_after_reboot", "actions_after_crash")}  # fmt: skip
    snap = db.create(
        "VM",
        {
            **fields,
            "name_label": label,
            "is_a_snapshot": True,
            "snapshot_of": vm,
            "snapshot_time": when,
            "power_state": "Halted",
            "domid": -1,
            "snapshot_info": {},
        },  # fmt: skip
    )
    metrics = create_vm_metrics(db, db.get("VM", snap), running=False, now=when)
    db.update("VM", snap, metrics=metrics)
    for d, vdi in enumerate(vdis):
        original = db.get("VDI", vdi)
        copy = db.create(
            "VDI",
            {
                "name_label": original["name_label"],
                "SR": original["SR"],
                "virtual_size": original["virtual_size"],
                "type": original["type"],
                "managed": True,
                "is_a_snapshot": True,
                "snapshot_of": vdi,
                "snapshot_time": when,
                "sm_config": {"image-format": "vhd", "vhd-parent": original["uuid"]},
                "allowed_operations": ["clone", "copy", "destroy"],
            },  # fmt: skip
        )
        ctx.disks.clone(vdi, copy)
        db.update(
            "VDI",
            copy,
            physical_utilisation=original["physical_utilisation"],
            location=db.get("VDI", copy)["uuid"],
        )
        db.create("VBD", {"VM": snap, "VDI": copy, "device": f"xvd{chr(ord('a') + d)}", "userdevice": str(d), "bootable": d == 0, "mode": "RW", "type": "Disk", "currently_attached": False})  # fmt: skip
    vm_ops.refresh(db, snap)
