"""Records that come and go with a VM's life: metrics, guest metrics, consoles.

Shared by the scenario builder (VMs that are already running) and the lifecycle (VMs that start).
"""

from __future__ import annotations

from typing import Any

from xo.formats.xmlrpc import DateTime
from xo.sim.db import Database
from xo.sim.schema import NULL_REF

GiB = 1 << 30
MiB = 1 << 20


def console_location(scheme: str, address: str, console_ref: str) -> str:
    return f"{scheme}://{address}/console?ref={console_ref}"


def create_consoles(
    db: Database, vm_ref: str, host_ref: str, scheme: str, netloc: str | None = None
) -> list[str]:
    """An ``rfb`` console (plus ``vt100`` for PV guests) pointing at the resident host
    (``netloc``: where it listens, ``ip:port``; its ``address`` by default)."""
    vm = db.get("VM", vm_ref)
    address = netloc or db.get("host", host_ref)["address"]
    protocols = ["rfb"]
    if vm["HVM_boot_policy"] == "" or vm["is_control_domain"]:
        protocols.append("vt100")
    refs = []
    for protocol in protocols:
        ref = db.ids.ref()
        db.create(
            "console",
            {
                "protocol": protocol,
                "location": console_location(scheme, address, ref),
                "VM": vm_ref,
                "other_config": {"vgaconsole": "true"} if protocol == "rfb" else {},
            },
            ref=ref,
        )
        refs.append(ref)
    return refs


def destroy_consoles(db: Database, vm_ref: str) -> None:
    for ref in list(db.get("VM", vm_ref)["consoles"]):
        if db.exists("console", ref):
            db.destroy("console", ref)


def create_vm_metrics(db: Database, vm: dict[str, Any], *, running: bool, now: DateTime) -> str:
    hvm = vm["HVM_boot_policy"] != ""
    return db.create(
        "VM_metrics",
        {
            "memory_actual": vm["memory_dynamic_max"] if running else 0,
            "VCPUs_number": vm["VCPUs_at_startup"] if running else 0,
            "VCPUs_utilisation": {str(i): 0.0 for i in range(vm["VCPUs_at_startup"])}
            if running
            else {},
            "VCPUs_CPU": {str(i): i for i in range(vm["VCPUs_at_startup"])} if running else {},
            "VCPUs_params": {},
            "VCPUs_flags": {},
            "state": [],
            "start_time": now if running else DateTime("19700101T00:00:00Z"),
            "install_time": now,
            "last_updated": now,
            "other_config": {},
            "hvm": hvm,
            "nested_virt": False,
            "nomigrate": False,
            "current_domain_type": (vm["domain_type"] if running else "unspecified"),
        },
    )


def create_guest_metrics(
    db: Database, os_version: dict[str, str], ip: str, *, now: DateTime, pv_drivers: bool = True
) -> str:
    ipv6 = "fe80::" + ip.replace(".", ":")[-9:]
    return db.create(
        "VM_guest_metrics",
        {
            "os_version": dict(os_version),
            "PV_drivers_version": (
                {"major": "8", "minor": "2", "micro": "2", "build": "200"} if pv_drivers else {}
            ),
            "PV_drivers_up_to_date": pv_drivers,
            "PV_drivers_detected": pv_drivers,
            "memory": {},
            "disks": {},
            "networks": {"0/ip": ip, "0/ipv4/0": ip, "0/ipv6/0": ipv6} if pv_drivers else {},
            "other": (
                {
                    "feature-shutdown": "1",
                    "feature-suspend": "1",
                    "feature-poweroff": "1",
                    "feature-reboot": "1",
                    "feature-vcpu-hotplug": "1",
                    "feature-static-ip-setting": "1",
                    "has-vendor-device": "0",
                    "platform-feature-multiprocessor-suspend": "1",
                }
                if pv_drivers
                else {}
            ),
            "last_updated": now,
            "other_config": {},
            "live": pv_drivers,
            "can_use_hotplug_vbd": "yes" if pv_drivers else "unspecified",
            "can_use_hotplug_vif": "yes" if pv_drivers else "unspecified",
        },
    )


def destroy_guest_metrics(db: Database, vm_ref: str) -> None:
    gm = db.get("VM", vm_ref)["guest_metrics"]
    if gm != NULL_REF:
        db.update("VM", vm_ref, guest_metrics=NULL_REF)
        if db.exists("VM_guest_metrics", gm):
            db.destroy("VM_guest_metrics", gm)
