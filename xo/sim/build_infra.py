"""Scenario building, part 1: the pool, hosts, networks, storage, SM drivers, updates, messages."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from xo.formats.xmlrpc import DateTime
from xo.sim import catalog
from xo.sim.db import Database
from xo.sim.disks import DiskStore
from xo.sim.schema import NULL_REF
from xo.sim.vm_records import GiB, create_consoles, create_vm_metrics

# A fixed clock for generated timestamps keeps scenarios reproducible (2025-01-06 08:00 UTC).
BASE_TIME = 1_736_150_400
TiB = 1 << 40


@dataclass
class BuildContext:
    db: Database
    disks: DiskStore
    rng: random.Random
    index: int  # pool index
    flavour: str
    name: str
    url_scheme: str = "http"
    pool_ref: str = NULL_REF
    hosts: list[str] = field(default_factory=list)
    host_names: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)  # guest networks (eth0, eth1)
    shared_sr: str = NULL_REF
    iso_sr: str = NULL_REF
    local_srs: dict[str, str] = field(default_factory=dict)  # host -> local SR
    templates: dict[str, str] = field(default_factory=dict)  # name -> template ref
    next_domid: dict[str, int] = field(default_factory=dict)

    def ts(self, offset: float) -> DateTime:
        return DateTime.from_timestamp(BASE_TIME + offset)


def build_pool_and_hosts(ctx: BuildContext, hosts: int) -> None:
    db = ctx.db
    prefix = "xcp" if ctx.flavour == "xcp-ng" else "xs"
    ctx.pool_ref = db.create(
        "pool",
        {
            "name_label": ctx.name,
            "restrictions": {
                "restrict_zstd_export": "false", "restrict_vtpm": "false", "restrict_vswitch_controller": "false",
                "restrict_pooling": "false", "restrict_hotfix_apply": "false", "restrict_pool_size": "false",
            },
            "cpu_info": {"cpu_count": str(16 * hosts), "socket_count": str(2 * hosts), "vendor": "GenuineIntel", "features_pv": "1fc9cbf5-f6f83203-2991cbf5-00000123", "features_hvm": "1fcbfbff-f7fa3223-2d93fbff-00000423"},
            "migration_compression": False,
            "allowed_operations": ["ha_enable", "cluster_create", "designate_new_master", "cert_refresh"],
        },
    )  # fmt: skip
    major, minor = catalog.api_version(ctx.flavour)
    cpu_count = 16
    for h in range(hosts):
        hostname = f"{prefix}-{ctx.index + 1:02d}-{h + 1:02d}"
        metrics = db.create(
            "host_metrics",
            {
                "memory_total": 256 * GiB,
                "memory_free": 256 * GiB,
                "live": True,
                "last_updated": ctx.ts(0),
            },
        )
        host = db.create(
            "host",
            {
                "name_label": hostname,
                "name_description": "Default install",
                "hostname": hostname,
                "address": f"10.0.{ctx.index}.{10 + h}",
                "enabled": True,
                "API_version_major": major,
                "API_version_minor": minor,
                "API_version_vendor": "XenSource",
                "software_version": catalog.software_version(ctx.flavour, hostname),
                "cpu_info": {
                    "cpu_count": str(cpu_count),
                    "socket_count": "2",
                    "threads_per_core": "2",
                    "vendor": "GenuineIntel",
                    "speed": "2394.454",
                    "modelname": "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz",
                    "family": "6",
                    "model": "85",
                    "stepping": "7",
                    "flags": "fpu de tsc msr pae mce cx8 apic sep",
                    "features_pv": "1fc9cbf5-f6f83203-2991cbf5-00000123",
                    "features_hvm": "1fcbfbff-f7fa3223-2d93fbff-00000423",
                },  # fmt: skip
                "capabilities": [
                    "xen-3.0-x86_64",
                    "hvm-3.0-x86_32",
                    "hvm-3.0-x86_32p",
                    "hvm-3.0-x86_64",
                ],
                "chipset_info": {"iommu": "true", "hvm": "true"},
                "license_params": {
                    "restrict_zstd_export": "false",
                    "expiry": "20991231T00:00:00Z",
                    "sku_type": "free",
                },
                "edition": "xcp-ng" if ctx.flavour == "xcp-ng" else "standard",
                "other_config": {
                    "boot_time": f"{BASE_TIME - 86_400 * (3 + h)}.",
                    "agent_start_time": f"{BASE_TIME - 3_600}.",
                    "iscsi_iqn": f"iqn.2025-01.com.example:{hostname}",
                    "multipathing": "false",
                },
                "iscsi_iqn": f"iqn.2025-01.com.example:{hostname}",
                "metrics": metrics,
                "memory_overhead": 512 * (1 << 20),
                "bios_strings": {
                    "bios-vendor": "Dell Inc.",
                    "system-manufacturer": "Dell Inc.",
                    "system-product-name": "PowerEdge R640",
                },
                "sched_policy": "credit",
                # XO's host.start needs a power-on mode; real hosts often have "" (disabled)
                "power_on_mode": "wake-on-lan",
                "allowed_operations": [
                    "provision",
                    "evacuate",
                    "shutdown",
                    "reboot",
                    "vm_start",
                    "vm_resume",
                    "vm_migrate",
                ],
            },
        )
        ctx.hosts.append(host)
        ctx.host_names.append(hostname)
        ctx.next_domid[host] = 1
        for n in range(cpu_count):
            db.create(
                "host_cpu",
                {
                    "host": host,
                    "number": n,
                    "vendor": "GenuineIntel",
                    "speed": 2394,
                    "modelname": "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz",
                    "family": 6,
                    "model": 85,
                    "stepping": "7",
                    "flags": "fpu de tsc msr pae mce cx8 apic sep",
                    "features": "1fcbfbff-f7fa3223-2d93fbff-00000423",
                    "utilisation": 0.0,
                },  # fmt: skip
            )
    db.update("pool", ctx.pool_ref, master=ctx.hosts[0])


def build_networks(ctx: BuildContext) -> None:
    db = ctx.db
    for n in range(2):
        ctx.networks.append(
            db.create(
                "network",
                {
                    "name_label": f"Pool-wide network associated with eth{n}",
                    "bridge": f"xenbr{n}",
                    "MTU": 1500,
                    "other_config": {},
                    "allowed_operations": [],
                    "default_locking_mode": "unlocked",
                },
            )
        )
    db.create(
        "network",
        {
            "name_label": "Host internal management network",
            "name_description": "Network on which guests will be assigned a private link-local IP address which can be used to talk XenAPI",
            "bridge": "xenapi",
            "MTU": 1500,
            "other_config": {
                "is_guest_installer_network": "true",
                "is_host_internal_management_network": "true",
                "ip_begin": "169.254.0.1",
                "ip_end": "169.254.255.254",
                "netmask": "255.255.0.0",
            },
        },  # fmt: skip
    )
    for h, host in enumerate(ctx.hosts):
        for n, network in enumerate(ctx.networks):
            metrics = db.create(
                "PIF_metrics",
                {
                    "carrier": True,
                    "speed": 10_000,
                    "duplex": True,
                    "vendor_name": "Intel Corporation",
                    "device_name": "Ethernet Controller X710 for 10GbE SFP+",
                    "pci_bus_path": f"0000:3b:00.{n}",
                    "vendor_id": "8086",
                    "device_id": "1572",
                    "last_updated": ctx.ts(0),
                    "other_config": {},
                },  # fmt: skip
            )
            management = n == 0
            db.create(
                "PIF",
                {
                    "device": f"eth{n}",
                    "network": network,
                    "host": host,
                    "MAC": _mac(0x00, ctx.index, h, n),
                    "MTU": 1500,
                    "VLAN": -1,
                    "metrics": metrics,
                    "physical": True,
                    "currently_attached": True,
                    "ip_configuration_mode": "Static" if management else "None",
                    "IP": f"10.0.{ctx.index}.{10 + h}" if management else "",
                    "netmask": "255.255.255.0" if management else "",
                    "gateway": f"10.0.{ctx.index}.1" if management else "",
                    "DNS": f"10.0.{ctx.index}.2" if management else "",
                    "management": management,
                    "disallow_unplug": management,
                    "ipv6_configuration_mode": "None",
                    "primary_address_type": "IPv4",
                    "managed": True,
                    "properties": {"gro": "on"},
                    "capabilities": ["fcoe"],
                },
            )


def _mac(kind: int, pool: int, a: int, b: int) -> str:
    return f"{kind:02x}:16:3e:{pool % 256:02x}:{a % 256:02x}:{b % 256:02x}"


def _sr(
    ctx: BuildContext,
    label: str,
    sr_type: str,
    content: str,
    shared: bool,
    size: int,
    **extra: object,
) -> str:
    ops = ["vdi_create", "vdi_destroy", "vdi_resize", "vdi_clone", "vdi_snapshot", "vdi_introduce", "plug", "unplug", "update", "scan", "forget", "pbd_create", "pbd_destroy"]  # fmt: skip
    return ctx.db.create(
        "SR",
        {
            "name_label": label,
            "type": sr_type,
            "content_type": content,
            "shared": shared,
            "physical_size": size,
            "physical_utilisation": 0,
            "virtual_allocation": 0,
            "allowed_operations": ops
            if content != "iso"
            else ["plug", "unplug", "update", "scan", "forget", "vdi_introduce"],
            "other_config": {"i18n-key": "local-storage"}
            if not shared and content == "user"
            else {},
            "sm_config": {"devserial": "scsi-3600508b1001c"} if sr_type == "lvm" else {},
            **extra,
        },
    )


def build_storage(ctx: BuildContext) -> None:
    db = ctx.db
    for sm_type, label, description in catalog.SM_TYPES:
        db.create(
            "SM",
            {
                "name_label": label, "name_description": description, "type": sm_type,
                "vendor": "Citrix Systems Inc" if ctx.flavour == "xenserver" else "Vates SAS",
                "copyright": "(C) 2008 Citrix Systems Inc", "version": "1.0", "required_api_version": "1.0",
                "configuration": {"server": "the server hostname", "serverpath": "the export path"} if sm_type == "nfs" else {},
                "capabilities": list(catalog.SM_FEATURES), "features": dict(catalog.SM_FEATURES),
                "driver_filename": f"/opt/xensource/sm/{sm_type.upper()}SR", "required_cluster_stack": [],
            },
        )  # fmt: skip
    ctx.shared_sr = _sr(
        ctx,
        "NFS storage",
        "nfs",
        "user",
        True,
        8 * TiB,
        name_description="NFS SR [10.0.0.5:/exports/xen]",
    )
    ctx.iso_sr = _sr(
        ctx, "ISO library", "iso", "iso", True, 2 * TiB, name_description="NFS ISO library"
    )
    tools = _sr(
        ctx,
        "XCP-ng Tools" if ctx.flavour == "xcp-ng" else "XenServer Tools",
        "iso",
        "iso",
        True,
        0,
        is_tools_sr=True,
    )
    for sr, config in ((ctx.shared_sr, {"server": "10.0.0.5", "serverpath": "/exports/xen", "nfsversion": "4.1"}), (ctx.iso_sr, {"location": "10.0.0.5:/exports/iso", "type": "nfs_iso"}), (tools, {"location": "/opt/xensource/packages/iso", "legacy_mode": "true"})):  # fmt: skip
        for host in ctx.hosts:
            db.create(
                "PBD", {"host": host, "SR": sr, "device_config": config, "currently_attached": True}
            )
    local_type = "ext" if ctx.flavour == "xcp-ng" else "lvm"
    for h, host in enumerate(ctx.hosts):
        sr = _sr(ctx, f"Local storage on {ctx.host_names[h]}", local_type, "user", False, 2 * TiB)
        ctx.local_srs[host] = sr
        db.create(
            "PBD",
            {
                "host": host,
                "SR": sr,
                "device_config": {"device": "/dev/sda3"},
                "currently_attached": True,
            },
        )
    tools_vdi = db.create(
        "VDI",
        {
            "name_label": "guest-tools.iso",
            "name_description": "",
            "SR": tools,
            "virtual_size": 60 * (1 << 20),
            "physical_utilisation": 60 * (1 << 20),
            "type": "user",
            "read_only": True,
            "is_tools_iso": True,
            "managed": True,
            "location": "guest-tools.iso",
            "sm_config": {},
        },  # fmt: skip
    )
    ctx.disks.create(tools_vdi, 60 * (1 << 20))
    for n, name in enumerate(
        (
            "debian-12.5.0-amd64-netinst.iso",
            "ubuntu-22.04.4-live-server-amd64.iso",
            "Win2022_EN.iso",
        )
    ):
        size = (700 + 1300 * n) * (1 << 20)
        vdi = db.create("VDI", {"name_label": name, "SR": ctx.iso_sr, "virtual_size": size, "physical_utilisation": size, "type": "user", "read_only": True, "managed": True, "location": name})  # fmt: skip
        ctx.disks.create(vdi, size)
    db.update(
        "pool",
        ctx.pool_ref,
        default_SR=ctx.shared_sr,
        suspend_image_SR=ctx.shared_sr,
        crash_dump_SR=ctx.shared_sr,
    )


def build_control_domains(ctx: BuildContext) -> None:
    db = ctx.db
    for h, host in enumerate(ctx.hosts):
        ref = db.create(
            "VM",
            {
                "name_label": f"Control domain on host: {ctx.host_names[h]}",
                "name_description": "The domain which manages physical devices and manages other domains",
                "power_state": "Running",
                "is_control_domain": True,
                "resident_on": host,
                "domid": 0,
                "memory_static_max": 4 * GiB,
                "memory_dynamic_max": 4 * GiB,
                "memory_dynamic_min": 4 * GiB,
                "memory_static_min": 4 * GiB,
                "memory_target": 4 * GiB,
                "VCPUs_max": 16,
                "VCPUs_at_startup": 16,
                "domain_type": "pv",
                "actions_after_shutdown": "destroy",
                "actions_after_reboot": "restart",
                "actions_after_crash": "restart",
                "other_config": {
                    "storage_driver_domain": "",
                    "is_system_domain": "true",
                    "perfmon": "",
                },
                "platform": {},
                "user_version": 1,
            },  # fmt: skip
        )
        vm = db.get("VM", ref)
        metrics = create_vm_metrics(db, vm, running=True, now=ctx.ts(-86_400 * (3 + h)))
        db.update("VM", ref, metrics=metrics)
        create_consoles(db, ref, host, ctx.url_scheme)
        db.update("host", host, control_domain=ref)


def build_updates(ctx: BuildContext) -> None:
    """XenServer pools carry applied hotfixes; XCP-ng pools are updated through yum instead."""
    if ctx.flavour != "xenserver":
        return
    db = ctx.db
    for n, (label, description) in enumerate(
        (("XS82ECU1053", "Hotfix XS82ECU1053"), ("XS82ECU1061", "Hotfix XS82ECU1061"))
    ):
        update = db.create(
            "pool_update",
            {
                "name_label": label,
                "name_description": description,
                "version": "1.0",
                "installation_size": 104_857_600 * (n + 1),
                "key": label,
                "after_apply_guidance": ["restartHost"],
                "vdi": NULL_REF,
                "enforce_homogeneity": False,
                "hosts": list(ctx.hosts),
            },  # fmt: skip
        )
        patch = db.create(
            "pool_patch",
            {
                "name_label": label,
                "name_description": description,
                "version": "1.0",
                "size": 0,
                "pool_applied": True,
                "after_apply_guidance": ["restartHost"],
                "pool_update": update,
            },  # fmt: skip
        )
        for host in ctx.hosts:
            db.add_to_set("host", host, "updates", update)
            db.create("host_patch", {"name_label": label, "name_description": description, "version": "1.0", "host": host, "applied": True, "timestamp_applied": ctx.ts(-86_400 * 30), "size": 0, "pool_patch": patch})  # fmt: skip


def build_messages(ctx: BuildContext) -> None:
    db = ctx.db
    host_uuid = db.get("host", ctx.hosts[0])["uuid"]
    sr_uuid = db.get("SR", ctx.shared_sr)["uuid"]
    pool_uuid = db.get("pool", ctx.pool_ref)["uuid"]
    for n, (name, priority, cls, uuid, body) in enumerate(
        (
            (
                "HOST_CLOCK_SKEW_DETECTED",
                3,
                "Host",
                host_uuid,
                "The clock of the host is 12 seconds off",
            ),
            ("SR_BACKEND_FAILURE_46", 3, "SR", sr_uuid, "The VDI is not available, retrying"),
            (
                "POOL_CPU_FEATURES_UP",
                5,
                "Pool",
                pool_uuid,
                "The pool-level CPU features have been upgraded.",
            ),
        )
    ):
        db.create("message", {"name": name, "priority": priority, "cls": cls, "obj_uuid": uuid, "timestamp": ctx.ts(-3_600 * (n + 1)), "body": body})  # fmt: skip
